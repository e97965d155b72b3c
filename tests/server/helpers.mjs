// Shared test plumbing: start `tern serve` on a random port with the tiny fixture model,
// wait for it to be ready, stop it; raw HTTP over node's net module; SSE parsing.
import { spawn } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const binary = process.env.TERN_BINARY || path.join(repoRoot, "build/src/app/tern");
export const tinyModel = path.join(repoRoot, "tests/data/models/tiny-qwen2");
// tiny-qwen2 has no chat template of its own; the tiny ChatML one matches its tokenizer.
export const chatml = path.join(repoRoot, "tests/data/tokenizers/tiny-qwen/chat_template.jinja");
export const qwenTemplate = path.join(repoRoot, "tests/data/chat_templates/qwen2.5.jinja");

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Starts the server and resolves once /health answers 200. `args` are appended to
// serve --port 0 --threads 1, --model <model> unless `args` name one or model is null (a
// positional model in `args`), and --chat-template <chatTemplate> unless `args` name a
// template or a model, or chatTemplate is null.
export async function startServer(args = [], { env = {}, waitReady = true, model = tinyModel,
                                              chatTemplate = chatml } = {}) {
  const modelArgs = args.includes("--model") || model === null ? [] : ["--model", model];
  const template = args.includes("--chat-template") || args.includes("--model") || !chatTemplate
    ? [] : ["--chat-template", chatTemplate];
  const proc = spawn(binary, ["serve", ...modelArgs, "--port", "0", "--threads", "1", ...template, ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  proc.stdout.on("data", (d) => { log += d; });
  proc.stderr.on("data", (d) => { log += d; });
  const exited = new Promise((resolve) => proc.on("exit", (code, signal) => resolve({ code, signal })));
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("server did not start:\n" + log)), 20000);
    const check = () => {
      const m = /listening on http:\/\/[^:]+:(\d+)/.exec(log);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    };
    proc.stderr.on("data", check);
    exited.then(({ code }) => { clearTimeout(timer); reject(new Error(`server exited (${code}):\n${log}`)); });
  });
  const url = `http://127.0.0.1:${port}`;
  const server = {
    proc, port, url, exited,
    log: () => log,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      return exited;
    },
  };
  if (waitReady) {
    const deadline = Date.now() + 30000;
    for (;;) {
      const r = await fetch(url + "/health").catch(() => null);
      if (r && r.status === 200) break;
      if (Date.now() > deadline) throw new Error("server not ready:\n" + log);
      await sleep(50);
    }
  }
  return server;
}

// Sends `bytes` on a fresh connection and collects everything until the server closes
// it (or `timeoutMs` passes). Resolves {text, closed}.
export function rawExchange(port, bytes, { timeoutMs = 5000, endAfterWrite = false } = {}) {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    const chunks = [];
    let settled = false;
    const finish = (closed) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ text: Buffer.concat(chunks).toString("latin1"), closed });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on("data", (d) => chunks.push(d));
    socket.on("close", () => finish(true));
    socket.on("error", () => finish(true));
    socket.on("connect", () => {
      socket.write(bytes);
      if (endAfterWrite) socket.end();
    });
  });
}

// Splits raw HTTP/1.1 responses (Content-Length framed) out of `text`.
export function parseResponses(text) {
  const responses = [];
  let rest = text;
  while (rest.length) {
    const headEnd = rest.indexOf("\r\n\r\n");
    if (headEnd < 0) break;
    const lines = rest.slice(0, headEnd).split("\r\n");
    const status = Number(lines[0].split(" ")[1]);
    const headers = {};
    for (const line of lines.slice(1)) {
      const i = line.indexOf(":");
      headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
    }
    const length = Number(headers["content-length"] || 0);
    const body = rest.slice(headEnd + 4, headEnd + 4 + length);
    responses.push({ status, headers, body, json: body ? safeJson(body) : null });
    rest = rest.slice(headEnd + 4 + length);
  }
  return responses;
}

function safeJson(text) {
  try { return JSON.parse(text); } catch { return null; }
}

export function httpRequest(method, target, { headers = {}, body = "" } = {}) {
  const lines = [`${method} ${target} HTTP/1.1`, "Host: 127.0.0.1"];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  if (body !== null) lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  lines.push("Connection: close", "", "");
  return Buffer.concat([Buffer.from(lines.join("\r\n"), "latin1"), Buffer.from(body ?? "")]);
}

export async function postJson(url, route, body, headers = {}) {
  const r = await fetch(url + route, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, headers: r.headers, text, json };
}

// Reads an SSE response body; resolves the list of parsed data payloads ("[DONE]" kept
// as the string); comment lines (": keep-alive") are skipped.
export async function readSse(response) {
  const text = await response.text();
  const events = [];
  for (const block of text.split("\n\n")) {
    if (!block.trim() || block.startsWith(":")) continue;  // comments are keep-alives
    if (!block.startsWith("data: ")) throw new Error("not an SSE data event: " + JSON.stringify(block));
    const data = block.slice(6);
    events.push(data === "[DONE]" ? data : JSON.parse(data));
  }
  return events;
}

// Prometheus text -> {"name{labels}": value}.
export async function metrics(url, headers = {}) {
  const text = await (await fetch(url + "/metrics", { headers })).text();
  const values = {};
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    values[line.slice(0, i)] = Number(line.slice(i + 1));
  }
  return values;
}

export async function waitFor(predicate, timeoutMs = 5000, what = "condition") {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > deadline) throw new Error("timed out waiting for " + what);
    await sleep(20);
  }
}
