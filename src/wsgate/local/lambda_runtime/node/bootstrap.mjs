// The Node.js runtime of a local Lambda function: speaks the Lambda Runtime API with node:http.
//
// Started by wsgate as `node bootstrap.mjs` in the function's code root, with the environment
// Lambda defines (AWS_LAMBDA_RUNTIME_API, _HANDLER, LAMBDA_TASK_ROOT, NODE_PATH, ...). The init
// phase loads the handler (CommonJS or ES module; a failure goes to /runtime/init/error and the
// process exits); then it loops: GET /runtime/invocation/next, call the handler (async or
// callback style), POST the response or the error as {errorType, errorMessage, trace}.
import fs from "node:fs";
import http from "node:http";
import * as nodeModule from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import util from "node:util";

const API = "/2018-06-01/runtime";
const [HOST, PORT] = splitAddress(process.env.AWS_LAMBDA_RUNTIME_API || "127.0.0.1:9001");
const ROOT = process.env.LAMBDA_TASK_ROOT || process.cwd();
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
let currentRequestId = null;
let answered = true;
let keepAlive = null;

// The runtime lives until it is killed, as Lambda's does, even when a handler's promise never
// settles and nothing else is pending (the function then times out, it does not exit). The
// handle is let go only while a callback result waits for the event loop to empty.
function holdOpen() {
  if (!keepAlive) keepAlive = setInterval(() => {}, 1 << 30);
}

function letGo() {
  if (keepAlive) clearInterval(keepAlive);
  keepAlive = null;
}

function splitAddress(address) {
  const at = address.lastIndexOf(":");
  return [address.slice(0, at), Number(address.slice(at + 1))];
}

function call(method, urlPath, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(body);
    const request = http.request(
      {
        host: HOST,
        port: PORT,
        method,
        path: API + urlPath,
        agent,
        headers: data ? { ...headers, "Content-Length": data.length } : headers,
      },
      (response) => {
        const chunks = [];
        response.on("data", (chunk) => chunks.push(chunk));
        response.on("end", () =>
          resolve({ status: response.statusCode, headers: response.headers, body: Buffer.concat(chunks) }),
        );
        response.on("error", reject);
      },
    );
    request.on("error", reject);
    request.end(data);
  });
}

// console.* as Lambda's Node.js runtime writes them: time, request id, level, message.
function patchConsole() {
  const levels = { log: "INFO", info: "INFO", warn: "WARN", error: "ERROR", debug: "DEBUG", trace: "TRACE" };
  for (const [method, level] of Object.entries(levels)) {
    console[method] = (...args) => {
      const text = util.format(...args);
      process.stdout.write(`${new Date().toISOString()}\t${currentRequestId ?? "undefined"}\t${level}\t${text}\n`);
    };
  }
}

function errorDocument(error) {
  if (error instanceof Error) {
    return {
      errorType: error.name || "Error",
      errorMessage: error.message,
      trace: String(error.stack || "").split("\n"),
    };
  }
  const type = error === null ? "null" : typeof error;
  const message = typeof error === "string" ? error : JSON.stringify(error) ?? String(error);
  return { errorType: type, errorMessage: message, trace: [] };
}

class InitError extends Error {
  constructor(type, message, cause) {
    super(message);
    this.name = type;
    if (cause && cause.stack) this.stack = `${type}: ${message}\n${cause.stack}`;
  }
}

// ES module bare imports fall back to NODE_PATH (where the SDK is), as CommonJS requires do.
function registerSdkFallback() {
  const folders = (process.env.NODE_PATH || "").split(path.delimiter).filter(Boolean);
  // module.register exists from Node.js 18.19 / 20.6; before it, ES modules go without.
  if (!folders.length || typeof nodeModule.register !== "function") return;
  const parents = folders.map((folder) => pathToFileURL(path.join(folder, "noop.mjs")).href);
  nodeModule.register("./sdk-resolve.mjs", { parentURL: import.meta.url, data: { parents } });
}

function moduleKind(file) {
  if (file.endsWith(".mjs")) return "esm";
  if (file.endsWith(".cjs")) return "cjs";
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, "package.json");
    if (fs.existsSync(manifest)) {
      try {
        return JSON.parse(fs.readFileSync(manifest, "utf8")).type === "module" ? "esm" : "cjs";
      } catch {
        return "cjs";
      }
    }
    if (path.dirname(dir) === dir) return "cjs";
  }
}

async function loadHandler(spec) {
  const base = path.basename(spec);
  const dot = base.indexOf(".");
  if (dot < 0) throw new InitError("Runtime.MalformedHandlerName", `Bad handler ${spec}`);
  const modulePath = path.join(path.dirname(spec), base.slice(0, dot));
  const names = base.slice(dot + 1).split(".");
  const file = [".js", ".mjs", ".cjs"]
    .map((ext) => path.resolve(ROOT, modulePath + ext))
    .find((candidate) => fs.existsSync(candidate));
  if (!file) {
    throw new InitError("Runtime.ImportModuleError", `Error: Cannot find module '${modulePath}'`);
  }
  let loaded;
  try {
    loaded =
      moduleKind(file) === "esm"
        ? await import(pathToFileURL(file).href)
        : nodeModule.createRequire(path.join(ROOT, "noop.js"))(file);
  } catch (error) {
    if (error instanceof SyntaxError) {
      throw new InitError("Runtime.UserCodeSyntaxError", `${error.name}: ${error.message}`, error);
    }
    if (error && (error.code === "MODULE_NOT_FOUND" || error.code === "ERR_MODULE_NOT_FOUND")) {
      throw new InitError("Runtime.ImportModuleError", `Error: ${error.message}`, error);
    }
    throw error;
  }
  let handler = loaded;
  for (const name of names) handler = handler == null ? undefined : handler[name];
  if (handler === undefined && loaded && loaded.default && typeof loaded.default === "object") {
    handler = names.reduce((value, name) => (value == null ? undefined : value[name]), loaded.default);
  }
  if (handler === undefined) {
    throw new InitError("Runtime.HandlerNotFound", `${spec} is undefined or not exported`);
  }
  if (typeof handler !== "function") {
    throw new InitError("Runtime.HandlerNotFound", `${spec} is not a function`);
  }
  return handler;
}

function makeContext(headers, finish) {
  const deadline = Number(headers["lambda-runtime-deadline-ms"] || 0);
  return {
    awsRequestId: headers["lambda-runtime-aws-request-id"],
    invokedFunctionArn: headers["lambda-runtime-invoked-function-arn"],
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(deadline - Date.now(), 0),
    done: (error, result) => finish(error, result),
    succeed: (result) => finish(null, result),
    fail: (error) => finish(error ?? new Error("handled"), undefined),
  };
}

async function postError(requestId, error) {
  const document = errorDocument(error);
  console.error(`Invoke Error \t${JSON.stringify(document)}`);
  await call("POST", `/invocation/${requestId}/error`, JSON.stringify(document), {
    "Content-Type": "application/json",
    "Lambda-Runtime-Function-Error-Type": document.errorType,
  });
}

async function invoke(handler, next) {
  const requestId = next.headers["lambda-runtime-aws-request-id"];
  currentRequestId = requestId;
  answered = false;
  if (next.headers["lambda-runtime-trace-id"]) {
    process.env._X_AMZN_TRACE_ID = next.headers["lambda-runtime-trace-id"];
  }
  let settle;
  const outcome = new Promise((resolve) => {
    settle = (error, result) => resolve({ error, result });
  });
  let once = false;
  const finish = (error, result) => {
    if (!once) {
      once = true;
      settle(error, result);
    }
  };
  // "When the event loop is empty": Node.js says so with 'beforeExit' once nothing is pending.
  let onIdle = null;
  let idleRegistered = false;
  const idleListener = () => {
    idleRegistered = false;
    holdOpen();
    const run = onIdle;
    onIdle = null;
    if (run) run();
  };
  const whenIdle = (run) => {
    onIdle = run;
    if (!idleRegistered) {
      idleRegistered = true;
      letGo();
      process.once("beforeExit", idleListener);
    }
  };
  let context = null;
  // A callback result is sent once the event loop is empty, unless the handler set
  // context.callbackWaitsForEmptyEventLoop = false (then at once), as Lambda does.
  const viaCallback = (error, result) => {
    if (once) return;
    if (context && context.callbackWaitsForEmptyEventLoop === false) {
      finish(error ?? null, result);
    } else {
      once = true;
      whenIdle(() => settle(error ?? null, result));
    }
  };
  try {
    const event = JSON.parse(next.body.toString("utf8"));
    context = makeContext(next.headers, viaCallback);
    const returned = handler(event, context, viaCallback);
    if (returned && typeof returned.then === "function") {
      returned.then((result) => finish(null, result), (error) => finish(error ?? new Error("rejected"), undefined));
    } else if (handler.length < 3 && !once) {
      // As on Lambda, a plain function's return value is not its result: without a callback,
      // the result is null once the event loop is empty.
      whenIdle(() => finish(null, undefined));
    }
  } catch (error) {
    finish(error, undefined);
  }
  const { error, result } = await outcome;
  if (idleRegistered) {
    process.removeListener("beforeExit", idleListener);
    idleRegistered = false;
  }
  holdOpen();
  answered = true;
  if (error !== null && error !== undefined) {
    await postError(requestId, error);
    return;
  }
  let body;
  try {
    body = JSON.stringify(result === undefined ? null : result);
  } catch (failure) {
    await postError(requestId, new InitError("Runtime.MarshalError", `Unable to stringify response body: ${failure.message}`));
    return;
  }
  await call("POST", `/invocation/${requestId}/response`, body, { "Content-Type": "application/json" });
}

async function crash(kind, error) {
  // Lambda's runtime reports an unhandled error to the invocation in flight, then exits.
  const document = errorDocument(error);
  console.error(`${kind} \t${JSON.stringify(document)}`);
  if (currentRequestId && !answered) {
    answered = true;
    const wrapped = { ...document, errorType: kind === "Unhandled Promise Rejection" ? "Runtime.UnhandledPromiseRejection" : document.errorType };
    try {
      await call("POST", `/invocation/${currentRequestId}/error`, JSON.stringify(wrapped), {
        "Lambda-Runtime-Function-Error-Type": wrapped.errorType,
      });
    } catch {}
  }
  process.exit(128);
}

async function main() {
  holdOpen();
  patchConsole();
  registerSdkFallback();
  process.on("uncaughtException", (error) => crash("Uncaught Exception", error));
  process.on("unhandledRejection", (error) => crash("Unhandled Promise Rejection", error));
  let handler;
  try {
    handler = await loadHandler(process.env._HANDLER || "index.handler");
  } catch (error) {
    const document = errorDocument(error);
    console.error(`${document.errorType}: ${document.errorMessage}`);
    await call("POST", "/init/error", JSON.stringify(document), {
      "Lambda-Runtime-Function-Error-Type": document.errorType,
    });
    process.exit(129);
  }
  for (;;) {
    const next = await call("GET", "/invocation/next");
    if (next.status !== 200) {
      process.stderr.write(`the Runtime API answered ${next.status} to /invocation/next\n`);
      process.exit(1);
    }
    await invoke(handler, next);
  }
}

main();
