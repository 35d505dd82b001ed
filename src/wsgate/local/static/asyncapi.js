// Renders the app's AsyncAPI 3.0 document (/_wsgate/asyncapi.json) as a readable page.
// Self-contained: no library, nothing fetched but the document from this emulator.
"use strict";

const MAX_DEPTH = 6;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

function resolve(doc, value) {
  let seen = 0;
  while (value && typeof value === "object" && typeof value.$ref === "string" && seen < 20) {
    const path = value.$ref.replace(/^#\//, "").split("/");
    value = path.reduce((node, key) => (node ? node[key] : undefined), doc);
    seen += 1;
  }
  return value || {};
}

function refName(value) {
  return value && typeof value.$ref === "string" ? value.$ref.split("/").pop() : null;
}

function typeOf(doc, schema) {
  const name = refName(schema);
  if (name) return name;
  schema = resolve(doc, schema);
  if ("const" in schema) return JSON.stringify(schema.const);
  if (Array.isArray(schema.enum)) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
  if (Array.isArray(schema.anyOf)) return schema.anyOf.map((s) => typeOf(doc, s)).join(" | ");
  if (schema.type === "array") {
    if (Array.isArray(schema.items)) return "[" + schema.items.map((s) => typeOf(doc, s)).join(", ") + "]";
    return typeOf(doc, schema.items || {}) + "[]";
  }
  if (schema.type === "object" && schema.additionalProperties && !schema.properties) {
    return "{string: " + typeOf(doc, schema.additionalProperties) + "}";
  }
  return schema.type || schema.title || "any";
}

function schemaList(doc, schema, depth, seen) {
  schema = resolve(doc, schema);
  const props = schema.properties || {};
  const names = Object.keys(props);
  if (!names.length || depth > MAX_DEPTH) return null;
  const required = new Set(schema.required || []);
  const list = el("ul", { class: "schema" });
  for (const name of names) {
    const prop = props[name];
    const item = el(
      "li",
      { "data-field": name },
      el("span", { class: "name" }, name),
      ": ",
      el("span", { class: "type" }, typeOf(doc, prop)),
      required.has(name) ? " " : null,
      required.has(name) ? el("span", { class: "required" }, "required") : null,
    );
    // Nested objects (a model, or an array of models) are listed under their field.
    const inner = resolve(doc, prop.type === "array" && prop.items && !Array.isArray(prop.items) ? prop.items : prop);
    const key = refName(prop) || refName(prop.items || {});
    if (inner.properties && !(key && seen.has(key))) {
      const next = new Set(seen);
      if (key) next.add(key);
      const nested = schemaList(doc, inner, depth + 1, next);
      if (nested) item.append(nested);
    }
    list.append(item);
  }
  return list;
}

function messageBlock(doc, ref) {
  const message = resolve(doc, ref);
  const block = el("div", { class: "message" });
  if (message.summary || message.description) {
    block.append(el("p", { class: "muted" }, message.summary || message.description));
  }
  const list = schemaList(doc, message.payload || {}, 0, new Set());
  block.append(list || el("p", { class: "muted" }, message.payload && Object.keys(message.payload).length ? typeOf(doc, message.payload) : "any JSON (no declared body type)"));
  return block;
}

function operationBlock(doc, id, operation) {
  const ref = (operation.messages || [])[0];
  const message = resolve(doc, ref);
  const name = message.name || id;
  const box = el("div", { class: "operation", id: "op-" + id, "data-route": name });
  const title = el("h3", {}, name);
  if (operation.reply) title.append(el("span", { class: "tag" }, "two-way"));
  box.append(title, messageBlock(doc, ref));
  if (operation.reply) {
    const reply = el("div", { class: "reply" }, el("strong", {}, "Reply"));
    for (const replyRef of operation.reply.messages || []) reply.append(messageBlock(doc, replyRef));
    box.append(reply);
  }
  return box;
}

function render(doc) {
  document.getElementById("api-title").textContent = doc.info.title + " " + doc.info.version;
  document.getElementById("api-description").textContent = doc.info.description || "";
  document.getElementById("api-asyncapi").textContent = doc.asyncapi;
  const [server] = Object.values(doc.servers || {});
  const [channel] = Object.values(doc.channels || {});
  document.getElementById("api-server").textContent = server
    ? server.protocol + "://" + server.host + (channel && channel.address ? channel.address : "")
    : "";
  document.getElementById("api-selection").textContent = doc["x-wsgate-route-selection"] || "";
  const schemes = Object.values((doc.components || {}).securitySchemes || {});
  if (schemes.length) {
    document.getElementById("api-security").textContent = schemes
      .map((s) => s.name + " (" + s.in + ")")
      .join(", ");
  }
  const ws = channel && channel.bindings && channel.bindings.ws;
  const connect = document.getElementById("connect");
  for (const part of ["query", "headers"]) {
    if (ws && ws[part]) {
      connect.append(el("h3", {}, "$connect " + part), schemaList(doc, ws[part], 0, new Set()) || el("p", {}, "any"));
    }
  }
  const receive = document.getElementById("receive");
  const send = document.getElementById("send");
  for (const [id, operation] of Object.entries(doc.operations || {})) {
    (operation.action === "receive" ? receive : send).append(operationBlock(doc, id, operation));
  }
  if (!receive.children.length) receive.append(el("p", { class: "muted" }, "No routes."));
  if (!send.children.length) send.append(el("p", { class: "muted" }, "No server messages declared."));
}

async function main() {
  const status = document.getElementById("doc-status");
  try {
    const answer = await fetch("/_wsgate/asyncapi.json");
    const doc = await answer.json();
    if (!answer.ok) throw new Error(doc.error || "HTTP " + answer.status);
    render(doc);
    status.textContent = "AsyncAPI " + doc.asyncapi;
    status.className = "pill ok";
  } catch (error) {
    status.textContent = "error: " + error.message;
    status.className = "pill error";
  }
}

main();
