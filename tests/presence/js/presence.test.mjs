// Node tests of wsgate-presence.js against a real emulator serving the presence test app
// (heartbeat 0.5 s, timeout 3 s, no acked delivery). Run from tests/presence/test_js_client.py;
// standalone: WSGATE_CLIENT_JS=... WSGATE_PRESENCE_JS=... WSGATE_TEST_WS_URL=...
// node --experimental-websocket --test tests/presence/js/presence.test.mjs
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { WsgateClient } = require(process.env.WSGATE_CLIENT_JS);
require(process.env.WSGATE_PRESENCE_JS).install(WsgateClient);
const URL = process.env.WSGATE_TEST_WS_URL;
const skip = !URL ? "needs WSGATE_TEST_WS_URL" : false;

async function waitFor(predicate, timeout = 15000, what = "condition") {
  const deadline = Date.now() + timeout;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function user(name) {
  return new WsgateClient(`${URL}?user=${name}`, { initialDelay: 50 });
}

function record(room) {
  const seen = { join: [], leave: [], update: [] };
  room.onJoin((m) => seen.join.push(m.userId));
  room.onLeave((m) => seen.leave.push(m.userId));
  room.onUpdate((m) => seen.update.push([m.userId, m.data]));
  return seen;
}

test("join, update and leave reach the other member", { skip }, async () => {
  const ann = user("ann");
  const bob = user("bob");
  try {
    const a = ann.presence("r1", { data: { name: "Ann" }, grace: 200 });
    const seen = record(a);
    await waitFor(() => a.list().length === 1, 15000, "ann's state");
    const b = bob.presence("r1", { data: { name: "Bob" }, grace: 200 });
    await waitFor(() => seen.join.includes("bob"), 15000, "bob's join");
    assert.deepEqual(a.list().map((m) => [m.userId, m.data.name]), [["ann", "Ann"], ["bob", "Bob"]]);
    await waitFor(() => b.list().length === 2, 15000, "bob's state");
    b.update({ name: "Bob", status: "away" });
    await waitFor(() => seen.update.length === 1, 15000, "the update");
    assert.deepEqual(seen.update[0], ["bob", { name: "Bob", status: "away" }]);
    b.leave();
    await waitFor(() => seen.leave.includes("bob"), 15000, "bob's leave");
    assert.deepEqual(a.list().map((m) => m.userId), ["ann"]);
  } finally {
    ann.close();
    bob.close();
  }
});

test("heartbeats keep a silent client present past the timeout", { skip }, async () => {
  const ann = user("hb-ann");
  const bob = user("hb-bob");
  try {
    const a = ann.presence("r2", { grace: 0 });
    const seen = record(a);
    const b = bob.presence("r2", { grace: 0 });
    await waitFor(() => a.list().length === 2 && b.list().length === 2, 15000, "both present");
    assert.equal(a.heartbeat, 0.5); // told in the state frame
    await new Promise((r) => setTimeout(r, 7000)); // > 2 timeouts, nothing but heartbeats
    assert.deepEqual(seen.leave, []);
    assert.equal(a.list().length, 2);
    // Once bob's heartbeats stop (his socket closes without $disconnect reaching presence is
    // tested in Python), his leave comes: here he leaves by closing.
    bob.close();
    await waitFor(() => seen.leave.includes("hb-bob"), 15000, "bob's leave");
  } finally {
    ann.close();
    bob.close();
  }
});

test("a state larger than one frame arrives in parts and is assembled", { skip }, async () => {
  const big = "x".repeat(1900);
  const crowd = [];
  try {
    for (let i = 0; i < 70; i++) {
      const c = user(`crowd${i}`);
      crowd.push([c, c.presence("r3", { data: { bio: big } })]);
    }
    await waitFor(() => crowd.every(([, p]) => p.entered), 30000, "the crowd entered");
    const late = user("late");
    crowd.push([late, null]);
    const parts = [];
    late.on("raw", (f) => {
      if (f && f.type === "presence.state") parts.push(f.part);
    });
    const p = late.presence("r3", { data: {} });
    await waitFor(() => p.list().length === 71, 30000, "the whole list");
    assert.ok(parts.length >= 2, `state came in ${parts.length} part(s)`);
  } finally {
    for (const [c] of crowd) c.close();
  }
});
