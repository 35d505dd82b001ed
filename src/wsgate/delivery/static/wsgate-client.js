/*
 * wsgate-client.js: the browser/Node client of wsgate's delivery protocol. No dependencies.
 *
 *   const client = new WsgateClient("wss://abc.execute-api.eu-west-1.amazonaws.com/prod", {
 *     onConnect: async (c) => { await c.request({ action: "join", room: "lobby" }); },
 *   });
 *   client.on("message", (m) => render(m.stream, m.seq, m.data));   // in order, once each
 *   client.on("raw", (frame) => other(frame));                       // untracked frames
 *   client.on("continuityLost", (e) => resyncFromServer(e.stream));  // buffer did not reach back
 *   await client.request({ action: "sendMessage", text: "hi" });     // resolves when accepted
 *
 * What it does: reconnects with exponential backoff and jitter; after each (re)connect runs
 * `onConnect`, then asks the server to resume every stream it has seen (the resume token is the
 * last sequence number delivered per stream); acks tracked messages (cumulative, batched);
 * drops duplicates and delivers each stream's messages in sequence order, asking for a replay
 * when a gap does not fill within `gapTimeout`; retries `request()`s with the same ackId, so the
 * server runs each once. Protocol: docs/delivery.md.
 *
 * Browsers: <script src="/wsgate-client.js"> defines window.WsgateClient. Node: require() it;
 * Node 22+ has a global WebSocket (Node 20: --experimental-websocket, or pass
 * options.WebSocket, e.g. the `ws` package's class).
 */
(function (root, factory) {
  const api = factory();
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.WsgateClient = api.WsgateClient;
})(typeof globalThis !== "undefined" ? globalThis : this, function () {
  "use strict";

  const DEFAULTS = {
    actionField: "action",
    initialDelay: 250, // ms before the first reconnect attempt
    maxDelay: 10000, // cap of the reconnect backoff
    factor: 2,
    jitter: 0.5, // share of each delay that is random
    gapTimeout: 1000, // ms to wait for a missing sequence number before asking for a replay
    ackDelay: 25, // ms to batch acks
    requestTimeout: 10000, // ms to wait for an ack before sending a request again
    requestAttempts: 4,
    connectTimeout: 10000, // ms for the handshake before trying again
    stableAfter: 5000, // ms a connection must last for the reconnect backoff to start over
    storage: null, // {getItem, setItem}: keeps positions across page reloads
    storageKey: "wsgate.positions",
    onConnect: null, // async (client) => {}: rejoin rooms here; resume runs after it
    WebSocket: null,
    protocols: undefined,
  };

  class WsgateClient {
    constructor(url, options) {
      this.url = url;
      this.options = Object.assign({}, DEFAULTS, options || {});
      this.WebSocket = this.options.WebSocket || globalThis.WebSocket;
      if (!this.WebSocket) throw new Error("no WebSocket implementation: pass options.WebSocket");
      this.clientId = randomId();
      this.streams = new Map(); // stream -> {delivered, buffer: Map, gapTimer}
      this.requests = new Map(); // ackId -> {body, resolve, reject, attempts, timer}
      this.listeners = new Map();
      this.counter = 0;
      this.attempt = 0;
      this.everOpened = false;
      this.openedAt = 0;
      this.closed = false;
      this.ws = null;
      this.dirty = new Set();
      this.ackTimer = null;
      this.reconnectTimer = null;
      this.state = "connecting";
      this._restore();
      this._open();
    }

    // --- public API ------------------------------------------------------------------------

    on(name, fn) {
      if (!this.listeners.has(name)) this.listeners.set(name, new Set());
      this.listeners.get(name).add(fn);
      return () => this.listeners.get(name).delete(fn);
    }

    /** Send a frame with no acknowledgement. Returns false when not connected. */
    send(body) {
      if (!this.ws || this.ws.readyState !== 1) return false;
      this.ws.send(typeof body === "string" ? body : JSON.stringify(body));
      return true;
    }

    /** Send a frame the server acknowledges; resolves {status, reason, duplicate} when
     * accepted, rejects with an Error (err.reason) when rejected or never answered. */
    request(body) {
      const ackId = `${this.clientId}-${++this.counter}`;
      return new Promise((resolve, reject) => {
        const entry = { body: Object.assign({}, body, { ackId }), resolve, reject, attempts: 0, timer: null };
        this.requests.set(ackId, entry);
        this._sendRequest(ackId);
      });
    }

    /** The last sequence number delivered for a stream (0 when none). */
    position(stream) {
      const s = this.streams.get(stream);
      return s ? s.delivered : 0;
    }

    /** Stop tracking a stream (after leaving a room): it is no longer resumed. */
    forget(stream) {
      const s = this.streams.get(stream);
      if (s && s.gapTimer) clearTimeout(s.gapTimer);
      this.streams.delete(stream);
      this._save();
    }

    /** Close the socket and carry on as after a network failure: reconnect, rejoin, resume.
     * For tests and "reconnect now" buttons. */
    drop() {
      if (this.ws && this._lose) this._lose(4000, "client drop"); // now, not after a handshake
    }

    close() {
      this.closed = true;
      clearTimeout(this.reconnectTimer);
      clearTimeout(this.ackTimer);
      for (const s of this.streams.values()) clearTimeout(s.gapTimer);
      for (const [ackId, r] of this.requests) {
        clearTimeout(r.timer);
        r.reject(Object.assign(new Error("client closed"), { reason: "closed", ackId }));
      }
      this.requests.clear();
      if (this.ws) this.ws.close(1000, "bye");
      this.state = "closed";
    }

    // --- connection --------------------------------------------------------------------------

    _open() {
      this.state = "connecting";
      this.fresh = new Set();
      let ws;
      try {
        ws = new this.WebSocket(this.url, this.options.protocols);
      } catch (err) {
        this._emit("error", err);
        this._scheduleReconnect();
        return;
      }
      this.ws = ws;
      // Some implementations report a connection reset during the handshake only as an
      // error, never as a close: treat that, and a handshake that hangs, as a lost socket.
      const lost = (code, reason) => {
        clearTimeout(timer);
        if (this.ws !== ws) return;
        this.ws = null;
        // The backoff starts over only after a connection that lasted: a server that accepts
        // and drops at once is retried ever more slowly, not in a tight loop.
        if (this.openedAt && Date.now() - this.openedAt >= this.options.stableAfter) this.attempt = 0;
        this.openedAt = 0;
        try {
          ws.close();
        } catch (err) {
          /* already closed */
        }
        this._emit("close", { code, reason });
        if (!this.closed) this._scheduleReconnect();
      };
      this._lose = lost;
      const timer = setTimeout(() => {
        if (ws.readyState !== 1) lost(1006, "connect timeout");
      }, this.options.connectTimeout);
      ws.onopen = () => {
        clearTimeout(timer);
        this._onOpen(ws);
      };
      ws.onmessage = (ev) => this._onFrame(ev.data);
      ws.onerror = (ev) => {
        this._emit("error", ev);
        if (ws.readyState !== 1) lost(1006, "connection failed");
      };
      ws.onclose = (ev) => lost(ev.code, ev.reason);
    }

    async _onOpen(ws) {
      const reconnected = this.everOpened;
      this.everOpened = true;
      this.openedAt = Date.now();
      this.state = "open";
      const earlier = Array.from(this.requests.keys());
      this._emit("open", { reconnected });
      if (this.options.onConnect) {
        try {
          await this.options.onConnect(this);
        } catch (err) {
          this._emit("error", err);
        }
      }
      if (this.ws !== ws) return;
      // Requests from before this connection go again once onConnect has restored the
      // session (rejoined rooms), with their original ackIds: the server runs each once.
      for (const ackId of earlier) this._sendRequest(ackId, true);
      const positions = {};
      for (const [stream, s] of this.streams) {
        // A stream first seen in a sync on this connection starts now: nothing to resume.
        if (!this.fresh.has(stream)) positions[stream] = s.delivered;
      }
      if (Object.keys(positions).length) this._resume(positions);
    }

    _scheduleReconnect() {
      if (this.closed) return;
      this.state = "reconnecting";
      const o = this.options;
      const base = Math.min(o.maxDelay, o.initialDelay * Math.pow(o.factor, this.attempt));
      const delay = base * (1 - o.jitter) + Math.random() * base * o.jitter;
      this.attempt += 1;
      this._emit("reconnecting", { attempt: this.attempt, delay });
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = setTimeout(() => this._open(), delay);
    }

    _resume(positions) {
      this.send({ [this.options.actionField]: "wsgate.resume", streams: positions });
    }

    // --- frames -------------------------------------------------------------------------------

    _onFrame(raw) {
      let frame;
      try {
        frame = JSON.parse(typeof raw === "string" ? raw : new TextDecoder().decode(raw));
      } catch (err) {
        this._emit("raw", raw);
        return;
      }
      if (!frame || typeof frame !== "object") return this._emit("raw", frame);
      const meta = frame.wsgate;
      if (meta && typeof meta === "object" && !Array.isArray(meta)) {
        const data = Object.assign({}, frame);
        delete data.wsgate;
        return this._onMessage(meta, data);
      }
      switch (frame.type) {
        case "wsgate.ack":
          return this._onAck(frame);
        case "wsgate.sync":
          return this._onSync(frame);
        case "wsgate.resumed":
          return this._onResumed(frame);
        case "wsgate.error":
          return this._emit("protocolError", frame);
        default:
          return this._emit("raw", frame);
      }
    }

    _stream(name, firstSeq) {
      let s = this.streams.get(name);
      if (!s) {
        s = { delivered: firstSeq - 1, buffer: new Map(), gapTimer: null };
        this.streams.set(name, s);
      }
      return s;
    }

    _onMessage(meta, data) {
      const { stream, seq } = meta;
      if (typeof stream !== "string" || !Number.isInteger(seq) || seq < 1) return;
      const s = this._stream(stream, seq);
      if (seq > s.delivered && !s.buffer.has(seq)) {
        s.buffer.set(seq, { stream, seq, id: meta.id, attempt: meta.attempt || 1, data });
      }
      this._flush(stream, s);
      this._ackLater(stream); // duplicates are acked again so the server stops resending
    }

    _flush(stream, s) {
      let moved = false;
      while (s.buffer.has(s.delivered + 1)) {
        const message = s.buffer.get(s.delivered + 1);
        s.buffer.delete(s.delivered + 1);
        s.delivered += 1;
        moved = true;
        this._emit("message", message);
      }
      if (moved) this._save();
      if (s.buffer.size === 0) {
        clearTimeout(s.gapTimer);
        s.gapTimer = null;
      } else if (!s.gapTimer) {
        s.gapTimer = setTimeout(() => {
          s.gapTimer = null;
          if (s.buffer.size) this._resume({ [stream]: s.delivered });
        }, this.options.gapTimeout);
      }
    }

    _onSync(frame) {
      const { stream, seq } = frame;
      if (typeof stream !== "string" || !Number.isInteger(seq)) return;
      if (!this.streams.has(stream)) {
        this.fresh.add(stream);
        const s = this._stream(stream, seq + 1);
        this._flush(stream, s);
        this._save();
      }
    }

    _onResumed(frame) {
      const s = this.streams.get(frame.stream);
      this._emit("resumed", frame);
      if (!s) return;
      if (frame.status === "lost") {
        // The replay (already buffered here) starts at `oldest`; before it is a hole. A server
        // behind the client (its store was reset) restarts the stream at `latest`.
        const behind = frame.latest < frame.from;
        const start = behind ? frame.latest : frame.oldest != null ? frame.oldest - 1 : frame.latest;
        for (const seq of Array.from(s.buffer.keys())) if (behind || seq <= start) s.buffer.delete(seq);
        if (behind || s.delivered < start) s.delivered = start;
        this._emit("continuityLost", {
          stream: frame.stream,
          from: frame.from,
          to: start,
          latest: frame.latest,
          oldest: frame.oldest,
        });
        this._flush(frame.stream, s);
        this._ackLater(frame.stream);
        this._save();
      } else if (frame.status === "denied") {
        this._emit("denied", frame);
      }
    }

    _ackLater(stream) {
      this.dirty.add(stream);
      if (this.ackTimer) return;
      this.ackTimer = setTimeout(() => {
        this.ackTimer = null;
        const acks = {};
        for (const name of this.dirty) {
          const s = this.streams.get(name);
          if (s && s.delivered > 0) acks[name] = s.delivered;
        }
        this.dirty.clear();
        if (Object.keys(acks).length) this.send({ [this.options.actionField]: "wsgate.ack", acks });
      }, this.options.ackDelay);
    }

    // --- requests -------------------------------------------------------------------------------

    _sendRequest(ackId, resend) {
      const r = this.requests.get(ackId);
      if (!r) return;
      clearTimeout(r.timer);
      if (this.send(r.body)) r.attempts += resend ? 0 : 1;
      r.timer = setTimeout(() => {
        if (!this.requests.has(ackId)) return;
        if (r.attempts >= this.options.requestAttempts) {
          this.requests.delete(ackId);
          r.reject(Object.assign(new Error(`no answer to ${ackId}`), { reason: "timeout", ackId }));
        } else {
          this._sendRequest(ackId);
        }
      }, this.options.requestTimeout);
    }

    _onAck(frame) {
      const r = this.requests.get(frame.ackId);
      if (!r || frame.status === "pending") return;
      clearTimeout(r.timer);
      this.requests.delete(frame.ackId);
      const answer = { status: frame.status, reason: frame.reason, duplicate: !!frame.duplicate };
      if (frame.status === "accepted") r.resolve(answer);
      else r.reject(Object.assign(new Error(frame.reason || "rejected"), answer, { ackId: frame.ackId }));
    }

    // --- helpers ------------------------------------------------------------------------------

    _emit(name, value) {
      const set = this.listeners.get(name);
      if (!set) return;
      for (const fn of Array.from(set)) {
        try {
          fn(value);
        } catch (err) {
          if (name !== "error") this._emit("error", err);
        }
      }
    }

    _save() {
      const store = this.options.storage;
      if (!store) return;
      const positions = {};
      for (const [stream, s] of this.streams) positions[stream] = s.delivered;
      try {
        store.setItem(this.options.storageKey, JSON.stringify(positions));
      } catch (err) {
        /* storage full or denied: positions stay in memory */
      }
    }

    _restore() {
      const store = this.options.storage;
      if (!store) return;
      try {
        const positions = JSON.parse(store.getItem(this.options.storageKey) || "{}");
        for (const [stream, seq] of Object.entries(positions)) {
          if (Number.isInteger(seq) && seq >= 0) this._stream(stream, seq + 1);
        }
      } catch (err) {
        /* unreadable: start fresh */
      }
    }
  }

  function randomId() {
    const bytes = new Uint8Array(9);
    if (globalThis.crypto && globalThis.crypto.getRandomValues) globalThis.crypto.getRandomValues(bytes);
    else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  return { WsgateClient };
});
