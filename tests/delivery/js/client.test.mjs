// Node tests of wsgate-client.js. Run from tests/delivery/test_js_client.py, which starts the
// servers and passes their URLs; standalone: WSGATE_CLIENT_JS=... WSGATE_TEST_WS_URL=...
// node --experimental-websocket --test tests/delivery/js/client.test.mjs
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { WsgateClient } = require(process.env.WSGATE_CLIENT_JS);
const URL_LONG = process.env.WSGATE_TEST_WS_URL; // replay buffer of 200 messages
const URL_SHORT = process.env.WSGATE_TEST_WS_URL_SHORT; // replay buffer of 10 messages
const skip = !URL_LONG || !URL_SHORT ? "needs WSGATE_TEST_WS_URL(_SHORT)" : false;

async function waitFor(predicate, timeout = 15000, what = "condition") {
  const deadline = Date.now() + timeout;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

// A TCP proxy whose connections can be reset (no close frame, as a dead network path).
async function proxy(target) {
  const { port, hostname } = new URL(target.replace(/^ws/, "http"));
  const sockets = new Set();
  let accepting = true;
  const server = net.createServer((client) => {
    if (!accepting) return client.resetAndDestroy();
    const upstream = net.connect(Number(port), hostname);
    sockets.add(client).add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const s of [client, upstream]) {
      s.on("error", end);
      s.on("close", end);
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const path = new URL(target.replace(/^ws/, "http")).pathname;
  return {
    url: `ws://127.0.0.1:${server.address().port}${path}`,
    cut() {
      accepting = false;
      for (const s of sockets) s.resetAndDestroy();
    },
    restore() {
      accepting = true;
    },
    close: () => new Promise((r) => server.close(r)),
  };
}

function subscriber(url, room) {
  const client = new WsgateClient(url, {
    onConnect: (c) => c.request({ action: "join", room }),
    initialDelay: 50,
    maxDelay: 200,
    gapTimeout: 300,
  });
  const got = [];
  const lost = [];
  client.on("message", (m) => got.push(m.data.text));
  client.on("continuityLost", (e) => lost.push(e));
  if (process.env.DEBUG_CLIENT) {
    for (const ev of ["open", "close", "reconnecting", "resumed", "protocolError"]) {
      client.on(ev, (e) => console.log(ev, JSON.stringify(e), got.length));
    }
  }
  return { client, got, lost };
}

async function publish(publisher, room, from, to) {
  for (let i = from; i <= to; i++) await publisher.request({ action: "publish", room, text: i });
}

const range = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

test("an abrupt drop mid-stream: every message arrives once, in order", { skip }, async () => {
  const room = `js-${Math.random().toString(36).slice(2)}`;
  const px = await proxy(URL_LONG);
  const sub = subscriber(px.url, room);
  const publisher = new WsgateClient(URL_LONG);
  try {
    await waitFor(() => sub.client.streams.has(`room:${room}`), 30000, "join");
    await publish(publisher, room, 1, 20);
    await waitFor(() => sub.got.length >= 10, 15000, "first messages");
    px.cut();
    await publish(publisher, room, 21, 70);
    px.restore();
    await waitFor(() => sub.got.length >= 70, 60000, "all 70 messages");
    assert.deepEqual(sub.got, range(1, 70));
    assert.deepEqual(sub.lost, []);
    assert.equal(sub.client.position(`room:${room}`), 70);
  } finally {
    sub.client.close();
    publisher.close();
    await px.close();
  }
});

test("a buffer too short for the gap: continuityLost, then the stream goes on", { skip }, async () => {
  const room = `js-${Math.random().toString(36).slice(2)}`;
  const px = await proxy(URL_SHORT);
  const sub = subscriber(px.url, room);
  const publisher = new WsgateClient(URL_SHORT);
  try {
    await waitFor(() => sub.client.streams.has(`room:${room}`), 30000, "join");
    await publish(publisher, room, 1, 5);
    await waitFor(() => sub.got.length === 5, 15000, "first five");
    px.cut();
    await publish(publisher, room, 6, 35);
    px.restore();
    await waitFor(() => sub.lost.length === 1, 60000, "continuityLost");
    assert.equal(sub.lost[0].from, 5);
    assert.equal(sub.lost[0].to, 25); // 6..25 are gone; the buffer's ten newest are replayed
    assert.equal(sub.lost[0].latest, 35);
    await waitFor(() => sub.got.length === 15, 15000, "the replayed ten");
    assert.deepEqual(sub.got, [...range(1, 5), ...range(26, 35)]);
    await publish(publisher, room, 36, 37);
    await waitFor(() => sub.got.length === 17, 15000, "messages after the loss");
    assert.deepEqual(sub.got.slice(15), [36, 37]);
    assert.equal(sub.lost.length, 1);
  } finally {
    sub.client.close();
    publisher.close();
    await px.close();
  }
});

test("request() resolves on accepted and rejects with the server's reason", { skip }, async () => {
  const client = new WsgateClient(URL_LONG);
  try {
    const ok = await client.request({ action: "count", key: "js" });
    assert.equal(ok.status, "accepted");
    await assert.rejects(client.request({ action: "join", room: "private-js" }), (err) => {
      assert.equal(err.status, "rejected");
      assert.equal(err.reason, "room private-js is private");
      return true;
    });
  } finally {
    client.close();
  }
});

// Out-of-order and duplicate arrival cannot be forced through a real server, so this test
// drives the client with a small in-memory socket that records what the client sends.
class RecordingSocket {
  static last = null;
  constructor() {
    this.readyState = 0;
    this.sent = [];
    RecordingSocket.last = this;
    setTimeout(() => {
      this.readyState = 1;
      this.onopen && this.onopen();
    }, 0);
  }
  send(text) {
    this.sent.push(JSON.parse(text));
  }
  close() {
    this.readyState = 3;
  }
  deliver(frame) {
    this.onmessage({ data: JSON.stringify(frame) });
  }
}

test("reorders, drops duplicates, acks cumulatively and asks to fill a gap", async () => {
  const client = new WsgateClient("ws://unused", { WebSocket: RecordingSocket, gapTimeout: 50, ackDelay: 5 });
  const got = [];
  client.on("message", (m) => {
    assert.deepEqual(m.data, { n: m.seq });
    got.push(m.seq);
  });
  try {
    const ws = RecordingSocket.last;
    await waitFor(() => ws.readyState === 1, 1000, "open");
    const msg = (seq) => ({ n: seq, wsgate: { stream: "room:x", seq, id: `m${seq}` } });
    ws.deliver({ type: "wsgate.sync", stream: "room:x", seq: 0 });
    for (const seq of [2, 1, 1, 3, 2]) ws.deliver(msg(seq));
    assert.deepEqual(got, [1, 2, 3]);
    await waitFor(() => ws.sent.some((f) => f.action === "wsgate.ack"), 1000, "an ack");
    const acks = ws.sent.filter((f) => f.action === "wsgate.ack");
    assert.deepEqual(acks.at(-1).acks, { "room:x": 3 });
    ws.deliver(msg(5)); // 4 is missing
    assert.deepEqual(got, [1, 2, 3]);
    await waitFor(() => ws.sent.some((f) => f.action === "wsgate.resume"), 1000, "a resume");
    assert.deepEqual(ws.sent.find((f) => f.action === "wsgate.resume").streams, { "room:x": 3 });
    ws.deliver(msg(4));
    assert.deepEqual(got, [1, 2, 3, 4, 5]);
  } finally {
    client.close();
  }
});

test("positions kept in storage survive a page reload and are resumed", async () => {
  const saved = new Map();
  const storage = { getItem: (k) => saved.get(k) ?? null, setItem: (k, v) => saved.set(k, v) };
  const first = new WsgateClient("ws://unused", { WebSocket: RecordingSocket, storage });
  const ws1 = RecordingSocket.last;
  await waitFor(() => ws1.readyState === 1, 1000, "open");
  ws1.deliver({ type: "wsgate.sync", stream: "room:y", seq: 40 });
  ws1.deliver({ n: 41, wsgate: { stream: "room:y", seq: 41, id: "m41" } });
  first.close();
  assert.deepEqual(JSON.parse(saved.get("wsgate.positions")), { "room:y": 41 });

  const second = new WsgateClient("ws://unused", { WebSocket: RecordingSocket, storage });
  const ws2 = RecordingSocket.last;
  try {
    await waitFor(() => ws2.sent.some((f) => f.action === "wsgate.resume"), 1000, "a resume");
    assert.deepEqual(ws2.sent.find((f) => f.action === "wsgate.resume").streams, { "room:y": 41 });
    assert.equal(second.position("room:y"), 41);
  } finally {
    second.close();
  }
});

test("a server that accepts and drops at once is retried with growing delays", async () => {
  class FlakySocket extends RecordingSocket {
    constructor() {
      super();
      setTimeout(() => {
        this.readyState = 3;
        this.onclose && this.onclose({ code: 1006, reason: "" });
      }, 1);
    }
  }
  const delays = [];
  const client = new WsgateClient("ws://unused", {
    WebSocket: FlakySocket,
    initialDelay: 5,
    factor: 2,
    maxDelay: 40,
    jitter: 0,
  });
  client.on("reconnecting", (e) => delays.push(e.delay));
  try {
    await waitFor(() => delays.length >= 5, 2000, "five reconnects");
    assert.deepEqual(delays.slice(0, 5), [5, 10, 20, 40, 40]);
  } finally {
    client.close();
  }
});
