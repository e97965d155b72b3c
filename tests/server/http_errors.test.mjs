// Raw HTTP against tern: malformed bodies and each error status, framing limits,
// keep-alive and pipelining, the Host check, the API key on every spelling of a path, and
// CORS. Every error has OpenAI's body; none of them disturbs the server.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { httpRequest, parseResponses, postJson, rawExchange, startServer } from "./helpers.mjs";

function assertOpenAiError(json, type) {
  assert.ok(json && json.error, "an OpenAI error body");
  assert.equal(typeof json.error.message, "string");
  assert.ok(json.error.message.length > 0);
  assert.equal(json.error.type, type);
  assert.ok("param" in json.error && "code" in json.error);
}

async function raw(server, bytes, options) {
  const { text } = await rawExchange(server.port, bytes, options);
  return parseResponses(text);
}

describe("without an API key", () => {
  let server;
  before(async () => { server = await startServer(["--max-request-bytes", "262144", "--header-timeout", "1"]); });
  after(async () => { assert.equal((await server.stop()).code, 0); });

  const json = { "Content-Type": "application/json" };
  const bodies = {
    "truncated JSON": '{"model":',
    "trailing garbage": '{"prompt":"x"} x',
    "an array": "[]",
    "a number": "42",
    "null": "null",
    "a string": '"x"',
    "a repeated key": '{"prompt":"x","prompt":"y"}',
    "10000-deep nesting": "[".repeat(10000) + "]".repeat(10000),
    "a lone surrogate": '{"prompt":"\\ud800"}',
  };
  for (const [what, body] of Object.entries(bodies)) {
    test(`${what} is a 400`, async () => {
      const r = await postJson(server.url, "/v1/completions", body);
      assert.equal(r.status, 400, r.text);
      assertOpenAiError(r.json, "invalid_request_error");
      assert.equal(r.headers.get("content-type"), "application/json");
    });
  }

  test("invalid UTF-8 bytes are a 400", async () => {
    const body = Buffer.concat([Buffer.from('{"prompt":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    const [r] = await raw(server, Buffer.concat([
      Buffer.from(`POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n` +
                  `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`), body]));
    assert.equal(r.status, 400);
    assertOpenAiError(r.json, "invalid_request_error");
  });

  const invalidFields = [
    [{ prompt: "x", temperature: -1 }, "temperature"],
    [{ prompt: "x", temperature: 2.5 }, "temperature"],
    [{ prompt: "x", top_p: 0 }, "top_p"],
    [{ prompt: "x", top_p: 1.5 }, "top_p"],
    [{ prompt: "x", top_k: -2 }, "top_k"],
    [{ prompt: "x", min_p: 1.5 }, "min_p"],
    [{ prompt: "x", presence_penalty: 3 }, "presence_penalty"],
    [{ prompt: "x", repetition_penalty: 0 }, "repetition_penalty"],
    [{ prompt: "x", max_tokens: 0 }, "max_tokens"],
    [{ prompt: "x", max_tokens: -5 }, "max_tokens"],
    [{ prompt: "x", max_tokens: 1.5 }, "max_tokens"],
    [{ prompt: "x", max_tokens: "10" }, "max_tokens"],
    [{ prompt: "x", n: 0 }, "n"],
    [{ prompt: "x", n: 1e9 }, "n"],
    [{ prompt: "x", stream: "yes" }, "stream"],
    [{ prompt: "x", stop: Array(17).fill("a") }, "stop"],
    [{ prompt: "x", stop: [""] }, "stop[0]"],
    [{ prompt: "x", stop: "a".repeat(65536) }, "stop"],
    [{ prompt: "x", logprobs: 21 }, "logprobs"],
    [{ prompt: "x", stop_token_ids: [99999] }, "stop_token_ids[0]"],
    [{ prompt: "x", response_format: { type: "json_object" } }, "response_format"],
    [{ prompt: "x", best_of: 4 }, "best_of"],
    [{ prompt: "x", stream_options: { include_usage: true } }, "stream_options"],
    [{ prompt: "" }, "prompt"],
    [{ prompt: [] }, "prompt"],
    [{ prompt: [-1] }, "prompt[0]"],
    [{ prompt: [2 ** 31] }, "prompt[0]"],
    [{ prompt: [1, "a"] }, "prompt[1]"],
  ];
  for (const [body, param] of invalidFields) {
    test(`completions ${JSON.stringify(body).slice(0, 60)} -> 400 param ${param}`, async () => {
      const r = await postJson(server.url, "/v1/completions", body);
      assert.equal(r.status, 400, r.text);
      assertOpenAiError(r.json, "invalid_request_error");
      assert.equal(r.json.error.param, param);
    });
  }

  const invalidChat = [
    [{ messages: "hi" }, "messages"],
    [{ messages: [] }, "messages"],
    [{ messages: [{ role: "bogus", content: "x" }] }, "messages[0].role"],
    [{ messages: [{ role: "user", content: null }] }, "messages[0].content"],
    [{ messages: [{ role: "tool", content: "x" }] }, "messages[0].tool_call_id"],
    [{ messages: [{ role: "user", content: "x" }], top_logprobs: 21, logprobs: true }, "top_logprobs"],
    [{ messages: [{ role: "user", content: "x" }], top_logprobs: 2 }, "top_logprobs"],
    [{ messages: [{ role: "user", content: "x" }], chat_template: "{{ 1 }}" }, "chat_template"],
    [{ messages: [{ role: "user", content: "x" }], chat_template_kwargs: { tokenize: true } },
     "chat_template_kwargs.tokenize"],
    [{ messages: [{ role: "user", content: "x" }], tool_choice: "auto" }, "tool_choice"],
  ];
  for (const [body, param] of invalidChat) {
    test(`chat ${JSON.stringify(body).slice(0, 60)} -> 400 param ${param}`, async () => {
      const r = await postJson(server.url, "/v1/chat/completions", body);
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json.error.param, param);
    });
  }

  test("template syntax in a message is data, not code", async () => {
    const a = await postJson(server.url, "/tokenize", { messages: [{ role: "user", content: "{{ 7*7 }}" }],
                                                        return_token_strs: true });
    assert.equal(a.status, 200);
    const text = (await postJson(server.url, "/detokenize", { tokens: a.json.tokens })).json.prompt;
    assert.ok(text.includes("{{ 7*7 }}"));
    assert.ok(!text.includes("49"));
  });

  test("context length: a full prompt and prompt + max_tokens are 400 context_length_exceeded", async () => {
    const long = await postJson(server.url, "/v1/completions", { prompt: Array(600).fill(5) });
    assert.equal(long.status, 400);
    assert.equal(long.json.error.code, "context_length_exceeded");
    assert.equal(long.json.error.param, "prompt");
    assert.match(long.json.error.message, /maximum context length is 512 tokens\. However, your prompt resulted in 600/);
    const over = await postJson(server.url, "/v1/completions", { prompt: Array(500).fill(5), max_tokens: 20 });
    assert.equal(over.status, 400);
    assert.equal(over.json.error.code, "context_length_exceeded");
    assert.equal(over.json.error.param, "max_tokens");
    const huge = await postJson(server.url, "/v1/completions", '{"prompt":[5],"max_tokens":9223372036854775808}');
    assert.equal(huge.status, 400);
    assert.equal(huge.json.error.code, "context_length_exceeded");
    // Omitted max_tokens on a near-full chat prompt: the rest of the context, finish "length".
    const near = await postJson(server.url, "/v1/completions", { prompt: Array(508).fill(5), ignore_eos: true });
    assert.equal(near.status, 200, near.text);
    assert.equal(near.json.choices[0].finish_reason, "length");
    assert.equal(near.json.usage.completion_tokens, 4);
  });

  test("unknown model and unknown model id are 404 model_not_found", async () => {
    const r = await postJson(server.url, "/v1/completions", { prompt: "x", model: "../etc/passwd" });
    assert.equal(r.status, 404);
    assertOpenAiError(r.json, "not_found_error");
    assert.equal(r.json.error.code, "model_not_found");
    assert.equal(r.json.error.param, "model");
    const m = await fetch(server.url + "/v1/models/nope");
    assert.equal(m.status, 404);
  });

  test("unknown route 404, wrong method 405 with Allow, wrong content type 415", async () => {
    const nf = await fetch(server.url + "/v2/nothing");
    assert.equal(nf.status, 404);
    assertOpenAiError(await nf.json(), "not_found_error");
    const wm = await fetch(server.url + "/v1/chat/completions");
    assert.equal(wm.status, 405);
    assert.equal(wm.headers.get("allow"), "POST, OPTIONS");
    assertOpenAiError(await wm.json(), "invalid_request_error");
    for (const type of ["application/x-www-form-urlencoded", "text/plain", null]) {
      const headers = type ? { "Content-Type": type } : {};
      const [r] = await raw(server, httpRequest("POST", "/v1/chat/completions", { headers, body: "{}" }));
      assert.equal(r.status, 415, type);
      assertOpenAiError(r.json, "invalid_request_error");
    }
  });

  test("an oversized body is a 413, by Content-Length before the body is read and when chunked", async () => {
    const head = "POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n";
    const [declared] = await raw(server, head + "Content-Length: 300000\r\n\r\n{");
    assert.equal(declared.status, 413);
    assertOpenAiError(declared.json, "invalid_request_error");
    assert.equal(declared.json.error.code, "request_too_large");
    let chunked = head + "Transfer-Encoding: chunked\r\n\r\n";
    for (let i = 0; i < 300000; i += 1000) chunked += "3e8\r\n" + "a".repeat(1000) + "\r\n";
    const [c] = await raw(server, chunked);
    assert.equal(c.status, 413);
  });

  test("oversized headers are a 431", async () => {
    const [r] = await raw(server, httpRequest("GET", "/health", { headers: { "X-Big": "a".repeat(64 << 10) } }));
    assert.equal(r.status, 431);
  });

  test("a slow header is cut off by the header timeout", async () => {
    const start = Date.now();
    const { closed } = await rawExchange(server.port, "GET /health HTTP/1.1\r\nHost: local", { timeoutMs: 4000 });
    assert.ok(closed);
    assert.ok(Date.now() - start < 3000);
  });

  test("a foreign Host is refused on a loopback bind", async () => {
    const [r] = await raw(server, "GET /v1/models HTTP/1.1\r\nHost: attacker.example:8000\r\nConnection: close\r\n\r\n");
    assert.equal(r.status, 403);
    assertOpenAiError(r.json, "permission_error");
  });

  test("pipelined requests are answered in order on one connection; HTTP/1.0 too", async () => {
    const one = (i) => `POST /tokenize HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n` +
                       `Content-Length: ${JSON.stringify({ prompt: "x".repeat(i) }).length}\r\n\r\n` +
                       JSON.stringify({ prompt: "x".repeat(i) });
    const { text } = await rawExchange(server.port, one(1) + one(2) + one(3) +
                                       "GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    const rs = parseResponses(text);
    assert.deepEqual(rs.map((r) => r.status), [200, 200, 200, 200]);
    const counts = rs.slice(0, 3).map((r) => r.json.tokens.length);
    assert.ok(counts[0] <= counts[1] && counts[1] <= counts[2]);
    const [old] = await raw(server, "GET /health HTTP/1.0\r\n\r\n");
    assert.equal(old.status, 200);
  });

  test("no CORS headers unless origins are configured", async () => {
    const r = await fetch(server.url + "/v1/models", { headers: { Origin: "https://evil.example" } });
    assert.equal(r.headers.get("access-control-allow-origin"), null);
  });

  test("the server still answers after all of the above", async () => {
    const r = await postJson(server.url, "/v1/completions", { prompt: "canary", max_tokens: 8, temperature: 0 });
    assert.equal(r.status, 200);
  });
});

describe("with an API key and allowed origins", () => {
  const key = "sk-test-Secret123";
  let server;
  before(async () => {
    server = await startServer(["--allowed-origins", "https://app.example"], { env: { TERN_API_KEY: key } });
  });
  after(async () => {
    assert.equal((await server.stop()).code, 0);
    assert.ok(!server.log().includes(key), "the key never appears in the log");
  });

  const routes = [["GET", "/v1/models"], ["POST", "/v1/completions"], ["POST", "/v1/chat/completions"],
                  ["POST", "/tokenize"], ["POST", "/detokenize"], ["GET", "/metrics"],
                  ["GET", "//v1/models"], ["GET", "/v1/./models"], ["GET", "/v1/%6dodels"], ["GET", "/V1/models"],
                  ["GET", "/v1/models/"], ["POST", "/v1//chat/completions"], ["GET", "/v1/models?api_key=" + key],
                  ["GET", "/nonexistent"]];
  const wrong = { "no header": {}, "wrong key": { Authorization: "Bearer nope" },
                  "key in another case": { Authorization: "Bearer " + key.toUpperCase() },
                  "lowercase scheme": { Authorization: "bearer " + key },
                  "extra space": { Authorization: "Bearer  " + key },
                  "key prefix": { Authorization: "Bearer " + key.slice(0, -1) } };
  for (const [method, path] of routes) {
    test(`${method} ${path} needs the key`, async () => {
      for (const [what, headers] of Object.entries(wrong)) {
        const [r] = await raw(server, httpRequest(method, path, {
          headers: { ...headers, "Content-Type": "application/json" }, body: method === "POST" ? "{}" : null }));
        assert.equal(r.status, 401, `${what}: ${r.status}`);
        assertOpenAiError(r.json, "authentication_error");
        assert.equal(r.json.error.code, "invalid_api_key");
      }
    });
  }

  test("the right key works on every spelling of a path; /health and / stay public", async () => {
    const auth = { Authorization: "Bearer " + key };
    for (const path of ["/v1/models", "//v1/models", "/v1/./models", "/v1/%6dodels", "/v1/models/"]) {
      const r = await fetch(server.url + path, { headers: auth });
      assert.equal(r.status, 200, path);
    }
    assert.equal((await fetch(server.url + "/health")).status, 200);
    assert.equal((await fetch(server.url + "/")).status, 200);
    const c = await postJson(server.url, "/v1/completions", { prompt: "x", max_tokens: 2 }, auth);
    assert.equal(c.status, 200);
  });

  test("CORS: allowed origins get headers, others do not; preflight needs no key", async () => {
    const auth = { Authorization: "Bearer " + key };
    const ok = await fetch(server.url + "/v1/models", { headers: { ...auth, Origin: "https://app.example" } });
    assert.equal(ok.headers.get("access-control-allow-origin"), "https://app.example");
    const evil = await fetch(server.url + "/v1/models", { headers: { ...auth, Origin: "https://evil.example" } });
    assert.equal(evil.headers.get("access-control-allow-origin"), null);
    const pre = await fetch(server.url + "/v1/chat/completions", {
      method: "OPTIONS",
      headers: { Origin: "https://app.example", "Access-Control-Request-Method": "POST" } });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get("access-control-allow-origin"), "https://app.example");
    assert.match(pre.headers.get("access-control-allow-headers"), /Authorization/);
    const preEvil = await fetch(server.url + "/v1/chat/completions", {
      method: "OPTIONS", headers: { Origin: "https://evil.example" } });
    assert.equal(preEvil.headers.get("access-control-allow-origin"), null);
  });
});

describe("a full waiting queue", () => {
  let server;
  before(async () => { server = await startServer(["--max-num-seqs", "1", "--max-waiting", "1"]); });
  after(async () => { assert.equal((await server.stop()).code, 0); });

  test("answers 503 server_overloaded with Retry-After, and every admitted request completes", async () => {
    const body = { prompt: "x", max_tokens: 200, ignore_eos: true, temperature: 0 };
    const results = await Promise.all(Array.from({ length: 8 }, () => postJson(server.url, "/v1/completions", body)));
    const statuses = results.map((r) => r.status);
    assert.ok(statuses.includes(503), statuses.join(","));
    assert.ok(statuses.includes(200), statuses.join(","));
    for (const r of results) {
      if (r.status === 503) {
        assertOpenAiError(r.json, "service_unavailable");
        assert.equal(r.json.error.code, "server_overloaded");
        assert.equal(r.headers.get("retry-after"), "1");
      } else {
        assert.equal(r.status, 200);
        assert.equal(r.json.usage.completion_tokens, 200);
      }
    }
  });
});
