// The reliability battery's harness (docs/reliability.md): a `tern serve`
// on 127.0.0.1 with the tiny model, and caseTest(), which runs one battery case and then
// checks the four global invariants:
//   G-INV-1  /health is 200 and the greedy canary (max_tokens 8) is byte-identical to the
//            one taken at start;
//   G-INV-2  the KV free-block, running and waiting gauges, and the preprocessing queue and
//            request-body bytes, are back to their baseline within 1 s (scaled in
//            sanitizer builds);
//   G-INV-3  the process is alive, has printed no sanitizer report, and answered no 5xx
//            the case did not expect (the access log has every status);
//   G-INV-4  the log (default level) holds no prompt text the case sent, no API key and no
//            stack trace.
import assert from "node:assert/strict";
import { test } from "node:test";

import { metrics, postJson, startServer } from "../helpers.mjs";

// Builds with -DTERN_SANITIZE=ON run slower; time limits stretch by this factor.
export const slow = process.env.TERN_SANITIZED === "1" ? 4 : 1;
// Whether the binary has the fault-injection hooks (-DTERN_TEST_HOOKS=ON).
export const hooksBuilt = process.env.TERN_TEST_HOOKS_BUILT === "1";

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const CANARY = { prompt: "Canary: the quick brown fox", max_tokens: 8, temperature: 0 };
const CRASH_PATTERNS = [/AddressSanitizer/, /LeakSanitizer/, /UndefinedBehaviorSanitizer/, /runtime error:/,
                        /terminate called/, /Segmentation fault/, /Aborted/];
const STACK_PATTERNS = [/#\d+ 0x[0-9a-f]+/, /[Ss]tack trace/, /[Bb]acktrace/, /\bat 0x[0-9a-f]{6,}/];

async function gauges(url, headers) {
  const m = await metrics(url, headers);
  return { kvFree: m.tern_kv_cache_blocks_free, running: m.tern_requests_running,
           waiting: m.tern_requests_waiting, preprocessQueued: m.tern_preprocess_queued,
           bodyBytes: m.tern_request_body_bytes };
}

// Starts `tern serve` (helpers.startServer: tiny-qwen2, port 0; its other options pass
// through) and takes the baseline: the canary's text and the gauges. `apiKey` is sent on
// the harness's own requests and must never show up in the log.
export async function startBatteryServer(args = [], { env = {}, apiKey = null, ...options } = {}) {
  const server = await startServer(args, { ...options, env: apiKey ? { ...env, TERN_API_KEY: apiKey } : env });
  try {
    await takeBaseline(server, apiKey);
  } catch (e) {
    await server.stop();  // a server left running would keep the test file alive
    throw e;
  }
  return server;
}

async function takeBaseline(server, apiKey) {
  server.auth = apiKey ? { Authorization: "Bearer " + apiKey } : {};
  server.secrets = apiKey ? [apiKey] : [];
  server.prompts = new Set();
  server.logChecked = 0;
  server.post = (route, body, headers = {}) => {
    remember(server, body);
    return postJson(server.url, route, body, { ...server.auth, ...headers });
  };
  server.remember = (text) => remember(server, text);
  const canary = await server.post("/v1/completions", CANARY);
  assert.equal(canary.status, 200, canary.text);
  server.canary = canary.json.choices[0].text;
  // The gauges are published at the end of an engine step, a moment after the canary's
  // answer went out.
  const deadline = Date.now() + 2000 * slow;
  // A request's body is given back just after its answer went out: wait for that too.
  for (;;) {
    server.baseline = await gauges(server.url, server.auth);
    const { running, waiting, preprocessQueued, bodyBytes } = server.baseline;
    if (running === 0 && waiting === 0 && preprocessQueued === 0 && bodyBytes === 0) break;
    assert.ok(Date.now() < deadline, `the engine is not idle after the canary: ${JSON.stringify(server.baseline)}`);
    await sleep(20);
  }
  server.logChecked = server.log().length;  // the 503s while it loaded are expected
}

// Prompt text a case sends: strings under prompt / content / text of at least 8 bytes
// (shorter ones could match log words by chance).
function remember(server, value, key = "") {
  if (typeof value === "string") {
    try {
      if (value.startsWith("{")) return remember(server, JSON.parse(value));
    } catch { /* not JSON: a prompt as it is */ }
    if (value.length >= 8 && (key === "" || ["prompt", "content", "text"].includes(key))) server.prompts.add(value);
  } else if (Array.isArray(value)) {
    for (const v of value) remember(server, v, key);
  } else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) remember(server, v, k);
  }
}

// The four invariants; `allow5xx` lists the 5xx statuses the case may cause.
export async function checkInvariants(server, { allow5xx = [] } = {}) {
  // G-INV-3: alive.
  assert.equal(server.proc.exitCode, null, "G-INV-3: the server exited:\n" + server.log().slice(-2000));
  assert.equal(server.proc.signalCode, null, "G-INV-3: the server was killed");
  // G-INV-2 first: "within 1 s of the last response" of the case.
  const deadline = Date.now() + 1000 * slow;
  let now;
  for (;;) {
    now = await gauges(server.url, server.auth);
    if (Object.keys(now).every((k) => now[k] === server.baseline[k])) break;
    assert.ok(Date.now() < deadline, `G-INV-2: gauges ${JSON.stringify(now)}, baseline ${JSON.stringify(server.baseline)}`);
    await sleep(20);
  }
  // G-INV-1.
  const health = await fetch(server.url + "/health");
  assert.equal(health.status, 200, "G-INV-1: /health");
  assert.equal(await health.text(), '{"status":"ok"}', "G-INV-1: /health");
  const canary = await postJson(server.url, "/v1/completions", CANARY, server.auth);
  assert.equal(canary.status, 200, "G-INV-1: canary: " + canary.text);
  assert.equal(canary.json.choices[0].text, server.canary, "G-INV-1: the canary's text changed");
  checkLog(server, allow5xx);
}

function checkLog(server, allow5xx) {
  const log = server.log();
  const fresh = log.slice(server.logChecked);
  server.logChecked = log.length;
  for (const pattern of CRASH_PATTERNS) assert.doesNotMatch(log, pattern, "G-INV-3: a crash or sanitizer report");
  for (const m of fresh.matchAll(/ -> (5\d\d) \(/g)) {
    assert.ok(allow5xx.includes(Number(m[1])), `G-INV-3: an unexpected ${m[1]}:\n${fresh.slice(-3000)}`);
  }
  for (const pattern of STACK_PATTERNS) assert.doesNotMatch(log, pattern, "G-INV-4: a stack trace in the log");
  for (const secret of server.secrets) assert.ok(!log.includes(secret), "G-INV-4: the API key is in the log");
  for (const prompt of server.prompts) {
    assert.ok(!log.includes(prompt), `G-INV-4: prompt text in the log: ${JSON.stringify(prompt.slice(0, 80))}`);
  }
}

// One battery case: `id` ("A1") starts the test name, so every case maps to one test.
// Options: allow5xx (statuses the case may cause), hooks (skip unless the binary has the
// test hooks), timeout (ms).
export function caseTest(server, id, title, fn, { allow5xx = [], hooks = false, timeout = 120000 } = {}) {
  const skip = hooks && !hooksBuilt ? "needs -DTERN_TEST_HOOKS=ON (the sanitizer CI build has it)" : false;
  test(`${id}: ${title}`, { skip, timeout: timeout * slow }, async () => {
    const s = typeof server === "function" ? server() : server;
    try {
      await fn(s);
      await checkInvariants(s, { allow5xx });
    } catch (e) {
      // The server's side of a failure, for CI logs.
      console.log(`--- ${id}: the server's log (last 4000 bytes) ---\n${s.log().slice(-4000)}`);
      throw e;
    }
  });
}

// Stops the server and checks what only shows at exit: status 0 and no leak report.
export async function stopBatteryServer(server) {
  if (!server) return;  // it failed to start: that failure is reported already
  const { code } = await server.stop();
  checkLog(server, [500, 503]);  // statuses were checked per case
  assert.equal(code, 0, "the server exits 0 on SIGTERM:\n" + server.log().slice(-2000));
}

// Asserts OpenAI's error body: {"error": {"message", "type", "param", "code"}}.
export function assertOpenAiError(json, type) {
  assert.ok(json && json.error, "an OpenAI error body");
  assert.equal(typeof json.error.message, "string");
  assert.ok(json.error.message.length > 0);
  assert.equal(json.error.type, type);
  assert.ok("param" in json.error && "code" in json.error);
}
