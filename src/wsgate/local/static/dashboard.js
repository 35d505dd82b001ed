// wsgate emulator dashboard: plain JavaScript, no build step. Talks to /_wsgate/api/.
(function () {
  "use strict";
  const api = "/_wsgate/api/";
  const $ = (id) => document.getElementById(id);
  let selected = null;       // connection id whose messages are shown, or null for all
  let refreshTimer = null;

  const time = (epoch) => epoch ? new Date(epoch * 1000).toLocaleTimeString() : "";

  async function call(method, path, body) {
    const res = await fetch(api + path, { method, body });
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = text; }
    return { status: res.status, data };
  }

  function cell(row, content) {
    const td = document.createElement("td");
    if (content instanceof Node) td.append(content); else td.textContent = content;
    row.append(td);
    return td;
  }

  function button(label, cls, onclick) {
    const b = document.createElement("button");
    b.type = "button"; b.textContent = label; b.className = cls; b.onclick = onclick;
    return b;
  }

  function renderConnections(rows) {
    const body = document.querySelector("#connections tbody");
    body.replaceChildren();
    const select = $("send-to");
    const keep = select.value;
    select.replaceChildren();
    for (const c of rows) {
      const tr = document.createElement("tr");
      tr.dataset.id = c.connectionId;
      if (c.connectionId === selected) tr.className = "selected";
      const code = document.createElement("code"); code.textContent = c.connectionId;
      cell(tr, code);
      cell(tr, c.userId || "—");
      cell(tr, (c.rooms || []).join(", ") || "—");
      cell(tr, time(c.connectedAt));
      cell(tr, time(c.lastActiveAt));
      cell(tr, `${c.messagesIn} / ${c.messagesOut}`);
      const actions = cell(tr, "");
      actions.append(
        button("Messages", "show", () => { selected = c.connectionId; $("filter-label").textContent = `(${c.connectionId})`; renderMessages(); refresh(); }),
        text(" "),
        button("Disconnect", "disconnect", async () => { const { status, data } = await call("DELETE", "connections/" + encodeURIComponent(c.connectionId)); if (status >= 400 && data && data.message) $("send-result").textContent = data.message; refresh(); }),
      );
      body.append(tr);
      const opt = document.createElement("option");
      opt.value = c.connectionId; opt.textContent = c.connectionId + (c.userId ? ` (${c.userId})` : "");
      select.append(opt);
    }
    if (keep && rows.some((c) => c.connectionId === keep)) select.value = keep;
    $("count").textContent = rows.length;
    $("empty").hidden = rows.length > 0;
  }

  function text(s) { return document.createTextNode(s); }

  const messages = [];
  function addMessage(m) {
    messages.push(m);
    if (messages.length > 500) messages.shift();
    if (!selected || m.connectionId === selected) appendMessage(m);
  }
  function appendMessage(m) {
    const li = document.createElement("li");
    li.className = m.direction || "event";
    li.textContent = m.direction ? `${m.connectionId} ${m.data}` : m.text;
    $("messages").append(li);
    $("messages").scrollTop = $("messages").scrollHeight;
  }
  function renderMessages() {
    $("messages").replaceChildren();
    for (const m of messages) if (!selected || m.connectionId === selected) appendMessage(m);
  }

  function renderPresence(rooms) {
    const box = $("presence");
    box.replaceChildren();
    const names = Object.keys(rooms || {});
    for (const room of names) {
      const div = document.createElement("div");
      div.className = "presence-room";
      div.dataset.room = room;
      const h = document.createElement("h3");
      h.textContent = `${room} (${rooms[room].length})`;
      const ul = document.createElement("ul");
      for (const m of rooms[room]) {
        const li = document.createElement("li");
        li.className = "member";
        li.dataset.user = m.userId;
        const data = Object.keys(m.data || {}).length ? " " + JSON.stringify(m.data) : "";
        li.textContent = `${m.userId}${data} · ${m.connections.length} connection(s) · since ${time(m.since)}`;
        ul.append(li);
      }
      div.append(h, ul);
      box.append(div);
    }
    $("presence-count").textContent = names.length;
    $("presence-empty").hidden = names.length > 0;
  }

  async function refresh() {
    const { status, data } = await call("GET", "connections");
    if (status === 200) {
      renderConnections(data.connections);
      renderPresence(data.presence);
    }
    return data;
  }
  function refreshSoon() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(() => { refreshTimer = null; refresh(); }, 150);
  }

  async function loadFaults() {
    const { data } = await call("GET", "faults");
    for (const [k, v] of Object.entries(data)) {
      const input = document.querySelector(`#faults-form [name=${k}]`);
      if (input) input.value = v;
    }
  }

  $("send-form").onsubmit = async (e) => {
    e.preventDefault();
    const to = $("send-to").value;
    if (!to) { $("send-result").textContent = "no connection selected"; return; }
    const { status } = await call("POST", "connections/" + encodeURIComponent(to) + "/messages", $("send-text").value);
    $("send-result").textContent = status === 200 ? `sent to ${to}` : `failed (${status})`;
  };
  $("broadcast").onclick = async () => {
    const { data } = await call("POST", "broadcast", $("send-text").value);
    $("send-result").textContent = `broadcast to ${data.sent} connection(s)`;
  };
  $("faults-form").onsubmit = async (e) => {
    e.preventDefault();
    const values = {};
    for (const input of document.querySelectorAll("#faults-form input")) values[input.name] = Number(input.value || 0);
    const { status, data } = await call("PUT", "faults", JSON.stringify(values));
    $("faults-result").textContent = status === 200 ? "applied" : data.error;
  };
  $("reset-faults").onclick = async () => {
    for (const input of document.querySelectorAll("#faults-form input")) input.value = 0;
    $("faults-form").requestSubmit();
  };
  $("show-all").onclick = () => { selected = null; $("filter-label").textContent = "(all connections)"; renderMessages(); refresh(); };
  $("clear").onclick = () => { messages.length = 0; renderMessages(); };

  function openFeed() {
    const feed = new EventSource(api + "events");
    feed.onopen = () => { $("feed-status").textContent = "feed: live"; $("feed-status").className = "pill live"; refresh(); };
    feed.onerror = () => { $("feed-status").textContent = "feed: reconnecting…"; $("feed-status").className = "pill"; };
    feed.addEventListener("connect", (e) => { const d = JSON.parse(e.data); addMessage({ connectionId: d.connectionId, text: `${d.connectionId} connected` }); refreshSoon(); });
    feed.addEventListener("disconnect", (e) => { const d = JSON.parse(e.data); addMessage({ connectionId: d.connectionId, text: `${d.connectionId} disconnected (${d.code} ${d.reason})` }); refreshSoon(); });
    feed.addEventListener("message", (e) => { addMessage(JSON.parse(e.data)); refreshSoon(); });
    feed.addEventListener("faults", () => loadFaults());
    feed.addEventListener("metrics", (e) => renderMetrics(JSON.parse(e.data).totals));
  }

  async function loadInfo() {
    // Read-only beyond loopback, and signed-only with --verify-signatures: say so, grey out.
    const { status, data } = await call("GET", "info");
    if (status !== 200 || data.actions) return;
    $("actions-note").textContent = data.note;
    $("actions-note").hidden = false;
    for (const el of document.querySelectorAll("#send-form button, #faults-form button, #faults-form input")) el.disabled = true;
    document.body.classList.add("read-only");
  }

  function renderMetrics(totals) {
    const names = Object.keys(totals);
    if (!names.length) return;
    $("metrics").textContent = names.map((n) => `${n} ${totals[n]}`).join(" · ");
  }
  async function loadMetrics() {
    const { status, data } = await call("GET", "metrics");
    if (status !== 200) return;
    if (!data.onDashboard) { $("metrics").textContent = "Metrics go to stdout as EMF lines (--metrics)."; return; }
    const totals = {};
    for (const [name, m] of Object.entries(data.metrics)) totals[name] = m.value;
    renderMetrics(totals);
  }

  refresh().then((data) => { if (data && data.recent) for (const m of data.recent) addMessage(m); });
  loadInfo();
  loadMetrics();
  loadFaults();
  openFeed();
})();
