// Battery group D, auth and exposure (docs/reliability.md): the API key on every route and
// spelling of a path, the ops surface, network posture (bind, CORS, Host) and leakage.
// The key comparison's timing (D1) is measured in tests/server/unit/http_policy_test.cpp,
// where the HTTP stack's noise does not drown it.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { httpRequest, parseResponses, rawExchange, repoRoot, tinyModel } from "../helpers.mjs";
import { assertOpenAiError, caseTest, hooksBuilt, slow, startBatteryServer, stopBatteryServer } from "./harness.mjs";
import { serveUntilExit } from "./model_variants.mjs";

const KEY = "sk-battery-Secret-4711";
const NAN_SEED = 777;  // with the test hooks, requests with this seed get NaN logits (D4's 500)
let server;
before(async () => {
  server = await startBatteryServer(["--allowed-origins", "https://app.example", "--max-num-seqs", "1",
                                     "--max-waiting", "1", "--max-request-bytes", "65536"],
                                    { apiKey: KEY, env: { TERN_TEST_HOOKS: `nan=${NAN_SEED}@0` } });
});
after(async () => { await stopBatteryServer(server); });
const s = () => server;

async function raw(bytes) {
  return parseResponses((await rawExchange(server.port, bytes)).text);
}

caseTest(s, "D1", "no key, wrong key, other case, bearer spelling, key in the query: 401 on every route and path spelling",
  async (server) => {
    const routes = [["GET", "/v1/models"], ["GET", "/v1/models/tiny-qwen2"], ["POST", "/v1/completions"],
                    ["POST", "/completions"], ["POST", "/v1/chat/completions"], ["POST", "/chat/completions"],
                    ["POST", "/tokenize"], ["POST", "/detokenize"], ["GET", "/metrics"],
                    ["POST", "//v1/chat/completions"], ["POST", "/v1/./chat/completions"],
                    ["POST", "/v1/%63hat/completions"], ["POST", "/V1/chat/completions"],
                    ["POST", "/v1/chat/completions/"], ["POST", "/v1//chat/completions"],
                    ["POST", "/x/../v1/chat/completions"], ["GET", "/v1/models?api_key=" + KEY],
                    ["GET", "/nonexistent"]];
    const wrong = { "no header": {}, "wrong key": { Authorization: "Bearer nope" },
                    "key in another case": { Authorization: "Bearer " + KEY.toUpperCase() },
                    "lowercase scheme": { Authorization: "bearer " + KEY },
                    "extra space": { Authorization: "Bearer  " + KEY },
                    "key prefix": { Authorization: "Bearer " + KEY.slice(0, -1) },
                    "key only": { Authorization: KEY }, "basic": { Authorization: "Basic " + KEY },
                    "x-api-key": { "X-Api-Key": KEY } };
    for (const [method, target] of routes) {
      for (const [what, headers] of Object.entries(wrong)) {
        const [r] = await raw(httpRequest(method, target, {
          headers: { ...headers, "Content-Type": "application/json" }, body: method === "POST" ? '{"prompt":"x"}' : null }));
        assert.equal(r.status, 401, `${method} ${target}, ${what}: ${r.status}`);
        assertOpenAiError(r.json, "authentication_error");
        assert.equal(r.json.error.code, "invalid_api_key");
        assert.equal(r.headers["www-authenticate"], "Bearer");
      }
    }
    // The right key works on every spelling of a route, and only there.
    for (const target of ["/v1/models", "//v1/models", "/v1/./models", "/v1/%6dodels", "/v1/models/"]) {
      const r = await fetch(server.url + target, { headers: server.auth });
      assert.equal(r.status, 200, target);
    }
    const c = await server.post("/v1/%63hat/completions", { messages: [{ role: "user", content: "authorised" }],
                                                             max_tokens: 2 });
    assert.equal(c.status, 200, c.text);
  });

caseTest(s, "D2", "/health is public and minimal; /metrics and every other route need the key; no admin routes",
  async (server) => {
    const health = await fetch(server.url + "/health");
    assert.equal(health.status, 200);
    assert.equal(await health.text(), '{"status":"ok"}');
    assert.equal(health.headers.get("server"), null, "no server software or version");
    assert.equal((await fetch(server.url + "/metrics")).status, 401);
    assert.equal((await fetch(server.url + "/metrics", { headers: server.auth })).status, 200);
    for (const target of ["/pause", "/resume", "/collective_rpc", "/shutdown", "/sleep", "/wake_up", "/admin",
                          "/debug", "/debug/pprof", "/reset_prefix_cache", "/v1/load_lora_adapter", "/server_info",
                          "/version", "/props", "/slots"]) {
      for (const method of ["GET", "POST"]) {
        const [anon] = await raw(httpRequest(method, target, { headers: { "Content-Type": "application/json" },
                                                               body: method === "POST" ? "{}" : null }));
        assert.equal(anon.status, 401, `${method} ${target}`);
        const [keyed] = await raw(httpRequest(method, target, { headers: { ...server.auth, "Content-Type": "application/json" },
                                                                body: method === "POST" ? "{}" : null }));
        assert.equal(keyed.status, 404, `${method} ${target}`);
      }
    }
  });

caseTest(s, "D3", "binds 127.0.0.1 by default; CORS only for the allowlist, never with credentials; foreign Host is 403",
  async (server) => {
    assert.match(server.log(), /listening on http:\/\/127\.0\.0\.1:\d+/);
    const evil = { Origin: "https://evil.example" };
    const simple = await fetch(server.url + "/v1/models", { headers: { ...server.auth, ...evil } });
    assert.equal(simple.headers.get("access-control-allow-origin"), null);
    const preEvil = await fetch(server.url + "/v1/chat/completions", {
      method: "OPTIONS", headers: { ...evil, "Access-Control-Request-Method": "POST" } });
    assert.equal(preEvil.headers.get("access-control-allow-origin"), null);
    assert.equal(preEvil.headers.get("access-control-allow-methods"), null);
    const ok = await fetch(server.url + "/v1/models", { headers: { ...server.auth, Origin: "https://app.example" } });
    assert.equal(ok.headers.get("access-control-allow-origin"), "https://app.example");
    assert.equal(ok.headers.get("vary"), "Origin");
    assert.equal(ok.headers.get("access-control-allow-credentials"), null);
    const pre = await fetch(server.url + "/v1/chat/completions", {
      method: "OPTIONS", headers: { Origin: "https://app.example", "Access-Control-Request-Method": "POST" } });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get("access-control-allow-origin"), "https://app.example");
    assert.match(pre.headers.get("access-control-allow-headers"), /Authorization/);
    assert.equal(pre.headers.get("access-control-allow-credentials"), null);
    for (const host of ["attacker.example", "attacker.example:8000", "127.0.0.1.attacker.example", "localhost.attacker.example"]) {
      const [r] = await raw(`GET /health HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      assert.equal(r.status, 403, host);
      assertOpenAiError(r.json, "permission_error");
      assert.equal(r.json.error.code, "host_not_allowed");
    }
  });

// What an error body must never carry.
function assertNothingLeaks(what, text) {
  assert.ok(!text.includes(KEY), `${what}: the key`);
  assert.ok(!text.includes(repoRoot), `${what}: a file path`);
  assert.doesNotMatch(text, /\/(tmp|home|usr|work|root)\/|\.(cpp|h|hpp|cu):\d+/, `${what}: a file path`);
  assert.doesNotMatch(text, /0x[0-9a-fA-F]{6,}/, `${what}: a pointer`);
  assert.doesNotMatch(text, /#\d+ |std::|tern::|terminate|what\(\)/, `${what}: internals`);
  assert.ok(!text.includes("Leakage probe"), `${what}: prompt text`);
}

caseTest(s, "D4", "400, 404, 413, 500 and 503 bodies and the log carry no paths, pointers, internals, keys or prompts",
  async (server) => {
    const prompt = "Leakage probe: the secret prompt text";
    const bodies = [];
    const bad = await server.post("/v1/completions", { prompt, temperature: "hot" });
    assert.equal(bad.status, 400);
    bodies.push(["400", bad.text]);
    const syntax = await server.post("/v1/completions", `{"prompt":"${prompt}",}`);
    assert.equal(syntax.status, 400);
    bodies.push(["400 syntax", syntax.text]);
    const notFound = await server.post("/v1/completions", { prompt, model: "/etc/passwd" });
    assert.equal(notFound.status, 404);
    bodies.push(["404", notFound.text]);
    const [tooLarge] = await raw(httpRequest("POST", "/v1/completions", {
      headers: { ...server.auth, "Content-Type": "application/json" }, body: JSON.stringify({ prompt: prompt.repeat(3000) }) }));
    assert.equal(tooLarge.status, 413);
    bodies.push(["413", tooLarge.body]);
    if (hooksBuilt) {
      const nan = await server.post("/v1/completions", { prompt, seed: NAN_SEED, max_tokens: 4 });
      assert.equal(nan.status, 500, nan.text);
      assert.equal(nan.json.error.type, "server_error");
      assert.equal(nan.json.error.code, "numerical_error");
      assert.match(nan.json.error.message, /request [0-9a-f]{16}/);
      bodies.push(["500", nan.text]);
    }
    // max-num-seqs 1 and max-waiting 1: of four long requests at least one is refused.
    const busy = await Promise.all(Array.from({ length: 4 }, () =>
      server.post("/v1/completions", { prompt, max_tokens: 200, ignore_eos: true })));
    const refused = busy.filter((r) => r.status === 503);
    assert.ok(refused.length > 0, busy.map((r) => r.status).join(","));
    bodies.push(["503", refused[0].text]);
    for (const [what, text] of bodies) assertNothingLeaks(what, text);
    // The log names the request and its status, nothing of what it asked.
    const lines = server.log().split("\n").filter((l) => / -> (4|5)\d\d /.test(l));
    assert.ok(lines.length >= 5);
    for (const line of lines) assert.match(line, /request [0-9a-f]{16} \S+ \S+ -> \d{3} \(\d+ ms\)$/, line);
  }, { allow5xx: [500, 503] });

// Issue 23, finding 8: without the key, a preflight must not tell real routes from
// others. Every path gets the same answer; only an allowlisted Origin adds CORS headers.
caseTest(s, "D5", "OPTIONS without the key answers every path alike: routes cannot be enumerated", async (server) => {
  const shape = async (target, headers) => {
    const [r] = await raw(httpRequest("OPTIONS", target, { headers, body: null }));
    const { "x-request-id": id, ...rest } = r.headers;
    assert.match(id, /^[0-9a-f]{16}$/);
    return JSON.stringify({ status: r.status, headers: rest, body: r.body });
  };
  for (const headers of [{}, { Origin: "https://evil.example", "Access-Control-Request-Method": "POST" },
                         { Origin: "https://app.example", "Access-Control-Request-Method": "POST" }]) {
    const answers = new Set();
    for (const target of ["/v1/chat/completions", "/v1/models", "/metrics", "/health", "/admin", "/v1/secret-route",
                          "/v1/models/anything", "/tokenize", "/x/y/z"]) {
      answers.add(await shape(target, headers));
    }
    assert.equal(answers.size, 1, `${JSON.stringify(headers)}: ${[...answers].join("\n")}`);
    const [one] = answers;
    assert.equal(JSON.parse(one).status, 204);
  }
});

// Issue 23, finding 14: a key that can never match (whitespace from a file or an env var)
// is refused at start-up, without printing it.
describe("D6: an API key with surrounding whitespace", () => {
  for (const [what, key] of [["a trailing newline", "sk-battery-Whitespace\n"], ["a leading space", " sk-battery-Whitespace"],
                             ["a trailing tab", "sk-battery-Whitespace\t"], ["only spaces", "   "]]) {
    test(`D6: ${what} in TERN_API_KEY and --api-key: exit 1 at start-up, naming the problem, not the key`,
      { timeout: 60000 * slow }, async () => {
        for (const [args, env] of [[[], { TERN_API_KEY: key }], [["--api-key", key], {}]]) {
          const r = await serveUntilExit(tinyModel, args, { env, timeoutMs: 10000 });
          assert.equal(r.code, 1, `exit status (signal ${r.signal}):\n${r.log.slice(-1500)}`);
          assert.ok(!r.healthy);
          assert.match(r.log, /API key.*whitespace/i);
          assert.ok(!r.log.includes("sk-battery-Whitespace"), "the key is in the log");
        }
      });
  }
});
