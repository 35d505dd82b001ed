// wsgate chat client: plain browser JavaScript, no build step.
// The WebSocket URL defaults to this page's host with the emulator's stage (/local);
// override with ?ws=wss://abc123.execute-api.eu-west-1.amazonaws.com/prod for a deployed API.
(function () {
  "use strict";
  const params = new URLSearchParams(location.search);
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const wsUrl = params.get("ws") || `${scheme}//${location.host}/${params.get("stage") || "local"}`;
  const $ = (id) => document.getElementById(id);
  const log = $("log");
  // Name and rooms survive a reload: this tab's in sessionStorage (the tab rejoins as it was),
  // the last ones used in localStorage (a new tab starts with them filled in, not joined).
  // Only what the server accepted is kept, so a refused room is never retried on reconnect.
  const KEY = "wsgate-chat";
  const load = (store) => { try { return JSON.parse(store.getItem(KEY)) || null; } catch (e) { return null; } };
  const mine = load(sessionStorage);
  const rooms = new Set(mine && Array.isArray(mine.rooms) ? mine.rooms : []); // rejoined after a reconnect
  let name = (mine && typeof mine.name === "string") ? mine.name : "";
  function save() {
    const state = JSON.stringify({ name, rooms: [...rooms], room: $("room").value });
    sessionStorage.setItem(KEY, state);
    localStorage.setItem(KEY, state);
  }

  function line(html, cls) {
    const div = document.createElement("div");
    div.className = "line" + (cls ? " " + cls : "");
    div.append(...html);
    log.append(div);
    log.scrollTop = log.scrollHeight;
  }
  function text(s) { return document.createTextNode(String(s)); }
  function strong(s) { const b = document.createElement("span"); b.className = "user"; b.textContent = s; return b; }

  // wsgate-client.js: reconnects with backoff, acks, resumes each room after a drop, delivers
  // chat messages in order and once. onConnect runs after every (re)connect, before the resume.
  const client = new WsgateClient(wsUrl, {
    onConnect: async (c) => {
      if (name) await c.request({ action: "setName", name }).catch(() => {});
      for (const room of rooms) await c.request({ action: "join", room }).catch(() => {});
    },
  });
  window.chatClient = client; // for the browser tests and the console

  // Who is online, per joined room (wsgate-presence.js): one entry per user however many tabs,
  // updated live; heartbeats and re-entering after a reconnect are the add-on's.
  const online = new Map(); // room -> presence room
  window.chatPresence = online;
  function renderOnline() {
    const box = $("online");
    box.replaceChildren();
    for (const [room, presence] of online) {
      const h = document.createElement("h2");
      h.textContent = `${room} (${presence.list().length} online)`;
      const ul = document.createElement("ul");
      ul.dataset.room = room;
      for (const m of presence.list()) {
        const li = document.createElement("li");
        li.className = "member";
        li.textContent = (m.data && m.data.name) || (m.anonymous ? "anonymous" : m.userId);
        if (m.connections > 1) li.title = `${m.connections} tabs`;
        ul.append(li);
      }
      box.append(h, ul);
    }
  }
  function enterPresence(room) {
    if (online.has(room)) return;
    const presence = client.presence(room, { data: { name: name || "anonymous" } });
    presence.onChange(renderOnline);
    online.set(room, presence);
    renderOnline();
  }
  function leavePresence(room) {
    const presence = online.get(room);
    if (!presence) return;
    presence.leave();
    online.delete(room);
    renderOnline();
  }
  for (const room of rooms) enterPresence(room); // a reloaded tab is back in its rooms

  const prefill = mine || load(localStorage);
  if (prefill) {
    if (typeof prefill.name === "string") $("name").value = prefill.name;
    if (typeof prefill.room === "string" && prefill.room) $("room").value = prefill.room;
  }
  if (name) line([text(`welcome back, ${name}: rejoining ${[...rooms].join(", ") || "no room yet"}`)], "notice");
  else line([text("Start here: type your name and press Set name, then Join a room (lobby is fine) and say something.")], "notice hint");

  function send(obj) {
    if (!client.send(obj)) line([text("not connected")], "error");
  }

  function onMessage(msg) {
    if (!msg || typeof msg !== "object") { line([text(msg)]); return; }
    if (typeof msg.type === "string" && msg.type.startsWith("presence.")) return; // the online list
    switch (msg.type) {
      case "message": line([text(`[${msg.room}] `), strong(msg.user), text(": " + msg.text)], "message"); break;
      case "joined": line([strong(msg.user), text(` joined ${msg.room}`)], "notice"); break;
      case "left": line([strong(msg.user), text(` left ${msg.room}`)], "notice"); break;
      case "members":  // the answer to our join: the room was accepted
        rooms.add(msg.room); save(); enterPresence(msg.room);
        line([text(`in ${msg.room}: ${msg.users.join(", ")}`)], "notice"); break;
      case "name":
        name = msg.name; save();
        for (const presence of online.values()) presence.data = { name }; // re-entries carry it
        line([text("you are now "), strong(msg.name)], "notice"); break;
      case "me": line([text(`you are ${msg.user || "anonymous"} (${msg.connectionId})`)], "notice"); break;
      case "error": line([text(msg.error)], "error"); break;
      default:
        if (msg.message) line([text(`gateway: ${msg.message}`)], "error");  // API Gateway error frames
        else line([text(JSON.stringify(msg))]);
    }
  }

  client.on("message", (m) => onMessage(m.data)); // tracked chat messages
  client.on("raw", onMessage); // everything else the app sends
  client.on("open", () => { $("status").textContent = "connected"; $("status").className = "open"; });
  client.on("close", (ev) => { $("status").textContent = `disconnected (${ev.code})`; $("status").className = ""; });
  client.on("resumed", (r) => {
    if (r.status === "ok" && r.replayed) line([text(`caught up ${r.replayed} message(s) in ${r.stream.slice(5)}`)], "notice catchup");
  });
  client.on("continuityLost", (e) => {
    line([text(`missed messages in ${e.stream.slice(5)} that are no longer kept`)], "error");
  });

  // Name and room are kept once the server confirms them ("name", "members" above).
  $("set-name").onclick = () => send({ action: "setName", name: $("name").value });
  $("join").onclick = () => send({ action: "join", room: $("room").value });
  $("leave").onclick = () => {
    const room = $("room").value;
    rooms.delete(room);
    save();
    client.forget(`room:${room}`);
    send({ action: "leave", room });
    leavePresence(room);
  };
  $("send-form").onsubmit = (e) => {
    e.preventDefault();
    const t = $("text").value;
    if (!t.trim()) return;
    // request(): retried with the same ackId until the server acknowledges, handled once.
    client.request({ action: "sendMessage", room: $("room").value, text: t }).catch((err) => {
      line([text(`not sent: ${err.reason || err.message}`)], "error");
    });
    $("text").value = "";
  };
})();
