// Validates an AsyncAPI document with the official parser (@asyncapi/parser).
// Usage: node validate-asyncapi.mjs DOCUMENT.json  → prints {"errors": [...], "warnings": [...]}
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(process.env.WSGATE_NODE_MODULES + "/");
const { Parser } = require("@asyncapi/parser");

const text = readFileSync(process.argv[2], "utf8");
const parser = new Parser();
const { document, diagnostics } = await parser.parse(text);
const out = { errors: [], warnings: [], operations: [], messages: [] };
for (const d of diagnostics) {
  const entry = { code: d.code, message: d.message, path: d.path.join(".") };
  if (d.severity === 0) out.errors.push(entry);
  else if (d.severity === 1) out.warnings.push(entry);
}
if (document) {
  out.operations = document.operations().all().map((op) => ({
    id: op.id(),
    action: op.action(),
    reply: op.reply() ? op.reply().messages().all().map((m) => m.id()) : null,
  }));
  out.messages = document.allMessages().all().map((m) => m.id());
}
console.log(JSON.stringify(out));
