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
  let socket = null;
  let retry = 500;

  function line(html, cls) {
    const div = document.createElement("div");
    div.className = "line" + (cls ? " " + cls : "");
    div.append(...html);
    log.append(div);
    log.scrollTop = log.scrollHeight;
  }
  function text(s) { return document.createTextNode(String(s)); }
  function strong(s) { const b = document.createElement("span"); b.className = "user"; b.textContent = s; return b; }

  function send(obj) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(obj));
    else line([text("not connected")], "error");
  }

  function onMessage(ev) {
    let msg;
    try { msg = JSON.parse(ev.data); } catch (e) { line([text(ev.data)]); return; }
    switch (msg.type) {
      case "message": line([text(`[${msg.room}] `), strong(msg.user), text(": " + msg.text)], "message"); break;
      case "joined": line([strong(msg.user), text(` joined ${msg.room}`)], "notice"); break;
      case "left": line([strong(msg.user), text(` left ${msg.room}`)], "notice"); break;
      case "members": line([text(`in ${msg.room}: ${msg.users.join(", ")}`)], "notice"); break;
      case "name": line([text("you are now "), strong(msg.name)], "notice"); break;
      case "me": line([text(`you are ${msg.user || "anonymous"} (${msg.connectionId})`)], "notice"); break;
      case "error": line([text(msg.error)], "error"); break;
      default:
        if (msg.message) line([text(`gateway: ${msg.message}`)], "error");  // API Gateway error frames
        else line([text(ev.data)]);
    }
  }

  function connect() {
    const name = $("name").value.trim();
    socket = new WebSocket(wsUrl + (name ? "?name=" + encodeURIComponent(name) : ""));
    socket.onopen = () => { retry = 500; $("status").textContent = "connected"; $("status").className = "open"; };
    socket.onmessage = onMessage;
    socket.onclose = (ev) => {
      $("status").textContent = `disconnected (${ev.code})`; $("status").className = "";
      setTimeout(connect, retry); retry = Math.min(retry * 2, 10000);
    };
  }

  $("set-name").onclick = () => send({ action: "setName", name: $("name").value });
  $("join").onclick = () => send({ action: "join", room: $("room").value });
  $("leave").onclick = () => send({ action: "leave", room: $("room").value });
  $("send-form").onsubmit = (e) => {
    e.preventDefault();
    const t = $("text").value;
    if (!t.trim()) return;
    send({ action: "sendMessage", room: $("room").value, text: t });
    $("text").value = "";
  };
  connect();
})();
