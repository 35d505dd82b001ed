/*
 * wsgate-presence.js: presence rooms for wsgate-client.js. No dependencies; load it after
 * wsgate-client.js.
 *
 *   const client = new WsgateClient(url);
 *   const lobby = client.presence("lobby", { data: { name: "Ada" } });
 *   lobby.onJoin((m) => show(m.userId, m.data));      // m: {userId, data, connections, since}
 *   lobby.onLeave((m) => hide(m.userId));
 *   lobby.onUpdate((m) => redraw(m));
 *   lobby.onChange((list) => render(list));           // after any of the three
 *   lobby.list();                                      // the members, earliest first
 *   lobby.update({ name: "Ada", status: "away" });    // everyone sees it
 *   lobby.leave();
 *
 * What it does: enters the room now and after every reconnect (before the delivery client
 * resumes), sends a small `presence.heartbeat` at the interval the server names in its
 * `presence.state` frame, enters again when the server says `presence.expired`, and keeps a
 * member that leaves for `grace` ms (default 3000) before reporting the leave: a member whose
 * connection dropped and came back within it (or this client's own reconnect) shows no
 * leave+join flicker. Events ride on the delivery client when the server has acked delivery on
 * (ordered, once) and arrive as plain frames otherwise. Protocol: docs/presence.md.
 *
 * Browsers: <script src="/wsgate-presence.js"> adds `presence()` to window.WsgateClient. Node:
 * require("./wsgate-presence.js").install(WsgateClient).
 */
(function (root, factory) {
  const api = factory();
  if (typeof module === "object" && module.exports) module.exports = api;
  else if (root.WsgateClient) api.install(root.WsgateClient);
})(typeof globalThis !== "undefined" ? globalThis : this, function () {
  "use strict";

  const STREAM_PREFIX = "room:wsgate.presence/";
  const DEFAULTS = { data: {}, grace: 3000 };

  class PresenceRoom {
    constructor(client, room, options) {
      this.client = client;
      this.room = room;
      this.options = Object.assign({}, DEFAULTS, options || {});
      this.data = this.options.data || {};
      this.stream = STREAM_PREFIX + room;
      this.members = new Map(); // userId -> member, as shown
      this.leaving = new Map(); // userId -> timer: left, shown until the grace period ends
      this.listeners = { join: new Set(), leave: new Set(), update: new Set(), change: new Set() };
      this.parts = null; // a presence.state being assembled
      this.early = null; // events that came before the state, applied on top of it
      this.heartbeat = 0; // seconds, from the state frame
      this.active = true;
      this.entered = false;
      this._off = [
        client.on("raw", (frame) => this._onFrame(frame)),
        client.on("message", (m) => {
          if (m.stream === this.stream) this._onFrame(m.data);
        }),
        client.on("close", () => {
          this.entered = false;
        }),
      ];
      client.forget(this.stream); // the state is the truth: nothing to resume from storage
      if (client.state === "open") this._enter();
    }

    onJoin(fn) {
      return this._listen("join", fn);
    }
    onLeave(fn) {
      return this._listen("leave", fn);
    }
    onUpdate(fn) {
      return this._listen("update", fn);
    }
    onChange(fn) {
      return this._listen("change", fn);
    }

    /** The members (one per user), earliest first. */
    list() {
      return Array.from(this.members.values()).sort((a, b) => a.since - b.since || (a.userId < b.userId ? -1 : 1));
    }

    /** Change this user's member data; every member gets a presence.update. */
    update(data) {
      this.data = data || {};
      return this.client.send({ [this.client.options.actionField]: "presence.update", room: this.room, data: this.data });
    }

    /** Leave the room and stop tracking it. */
    leave() {
      this.active = false;
      this.client.send({ [this.client.options.actionField]: "presence.leave", room: this.room });
      this._stop();
    }

    // --- internals ------------------------------------------------------------------------

    _listen(name, fn) {
      this.listeners[name].add(fn);
      return () => this.listeners[name].delete(fn);
    }

    _emit(name, value) {
      for (const fn of Array.from(this.listeners[name])) {
        try {
          fn(value);
        } catch (err) {
          this.client._emit("error", err);
        }
      }
    }

    _enter() {
      if (!this.active) return;
      // A re-entry starts the event stream afresh after the new state (no replay of old events).
      this.client.forget(this.stream);
      this.early = [];
      this.parts = null;
      this.client.send({ [this.client.options.actionField]: "presence.enter", room: this.room, data: this.data });
    }

    _stop() {
      for (const off of this._off) off();
      for (const timer of this.leaving.values()) clearTimeout(timer);
      this.leaving.clear();
      this.client.forget(this.stream);
      const rooms = this.client._presenceRooms;
      if (rooms) rooms.delete(this.room);
      restartHeartbeat(this.client);
    }

    _onFrame(frame) {
      if (!this.active || !frame || typeof frame !== "object" || frame.room !== this.room) return;
      switch (frame.type) {
        case "presence.state":
          return this._onState(frame);
        case "presence.join":
        case "presence.update":
        case "presence.leave":
          if (this.early) this.early.push(frame);
          else this._apply(frame);
          return;
        case "presence.expired":
          return this._enter();
        case "presence.error":
          return this.client._emit("presenceError", frame);
        default:
          return;
      }
    }

    _onState(frame) {
      if (!this.parts || this.parts.total !== frame.parts) this.parts = { total: frame.parts, got: new Map() };
      this.parts.got.set(frame.part, frame.members || []);
      if (this.parts.got.size < this.parts.total) return;
      const all = [];
      for (let i = 1; i <= this.parts.total; i++) all.push(...(this.parts.got.get(i) || []));
      this.parts = null;
      this.entered = true;
      if (frame.heartbeat > 0) {
        this.heartbeat = frame.heartbeat;
        restartHeartbeat(this.client);
      }
      const next = new Map(all.map((m) => [m.userId, m]));
      for (const [userId, member] of this.members) {
        if (!next.has(userId) && !this.leaving.has(userId)) this._startLeaving(member);
      }
      for (const member of next.values()) this._arrive(member);
      const early = this.early || [];
      this.early = null;
      for (const event of early) this._apply(event);
      this._emit("change", this.list());
    }

    _apply(frame) {
      for (const member of frame.members || []) {
        if (frame.type === "presence.leave") {
          if (this.members.has(member.userId) && !this.leaving.has(member.userId)) this._startLeaving(this.members.get(member.userId));
        } else {
          this._arrive(member);
        }
      }
      this._emit("change", this.list());
    }

    /** A member is (still) here: a join, an update, or the end of a pending leave. */
    _arrive(member) {
      const known = this.members.get(member.userId);
      const timer = this.leaving.get(member.userId);
      if (timer) {
        clearTimeout(timer);
        this.leaving.delete(member.userId);
      }
      this.members.set(member.userId, member);
      if (!known) this._emit("join", member);
      else if (JSON.stringify(known.data) !== JSON.stringify(member.data)) this._emit("update", member);
    }

    _startLeaving(member) {
      const done = () => {
        this.leaving.delete(member.userId);
        if (!this.members.has(member.userId)) return;
        this.members.delete(member.userId);
        this._emit("leave", member);
        this._emit("change", this.list());
      };
      if (this.options.grace > 0) this.leaving.set(member.userId, setTimeout(done, this.options.grace));
      else done();
    }
  }

  /** One heartbeat timer per client, at the shortest interval its rooms were told. */
  function restartHeartbeat(client) {
    clearInterval(client._presenceTimer);
    client._presenceTimer = null;
    const rooms = Array.from((client._presenceRooms || new Map()).values()).filter((r) => r.active && r.heartbeat > 0);
    if (!rooms.length) return;
    const seconds = Math.min(...rooms.map((r) => r.heartbeat));
    client._presenceTimer = setInterval(() => {
      if (client.state === "open") client.send({ [client.options.actionField]: "presence.heartbeat" });
    }, seconds * 1000);
  }

  function install(WsgateClient) {
    if (WsgateClient.prototype.presence) return WsgateClient;
    WsgateClient.prototype.presence = function (room, options) {
      if (typeof room !== "string" || !room) throw new Error("presence(room): room must be a non-empty string");
      if (!this._presenceRooms) {
        this._presenceRooms = new Map();
        // Enter every room again after each (re)connect, after the app's own onConnect and
        // before the delivery client resumes its streams.
        const appOnConnect = this.options.onConnect;
        this.options.onConnect = async (c) => {
          if (appOnConnect) await appOnConnect(c);
          for (const r of this._presenceRooms.values()) r._enter();
        };
        const close = this.close.bind(this);
        this.close = () => {
          clearInterval(this._presenceTimer);
          for (const r of Array.from(this._presenceRooms.values())) r._stop();
          return close();
        };
      }
      const existing = this._presenceRooms.get(room);
      if (existing) return existing;
      const presence = new PresenceRoom(this, room, options);
      this._presenceRooms.set(room, presence);
      return presence;
    };
    return WsgateClient;
  }

  return { install, PresenceRoom };
});
