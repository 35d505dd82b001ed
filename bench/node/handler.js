// The echo app for serverless-offline, doing what bench/bench_emulator.py's Python app does.
// PostToConnection is a plain fetch to serverless-offline's @connections endpoint (it has no
// stage prefix), the cheapest client possible, so the comparison does not charge an SDK to it.
"use strict";
const endpoint = `http://127.0.0.1:${process.env.SLS_WS_PORT || 3101}`;

async function post(id, data) {
  const res = await fetch(`${endpoint}/@connections/${encodeURIComponent(id)}`, { method: "POST", body: data });
  await res.arrayBuffer();
  return res.status;
}

exports.connect = async () => ({ statusCode: 200 });
exports.disconnect = async () => ({ statusCode: 200 });
exports.echo = async (event) => {
  await post(event.requestContext.connectionId, event.body);
  return { statusCode: 200 };
};
exports.echo2 = async (event) => ({ statusCode: 200, body: event.body });
exports.hello = async (event) => {
  const id = event.requestContext.connectionId;
  await post(id, JSON.stringify({ id }));
  return { statusCode: 200 };
};
exports.broadcast = async (event) => {
  const ids = JSON.parse(event.body).ids;
  await Promise.all(ids.map((id) => post(id, "tick")));
  return { statusCode: 200 };
};
