// Battery group A, HTTP and JSON framing (docs/reliability.md): malformed bodies, content
// types, size limits and slow senders, routing, methods, preflight and pipelining.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import net from "node:net";
import { after, before } from "node:test";

import { httpRequest, metrics, parseResponses, rawExchange } from "../helpers.mjs";
import { assertOpenAiError, caseTest, sleep, slow, startBatteryServer, stopBatteryServer } from "./harness.mjs";

const LIMIT = 1 << 20;  // --max-request-bytes for this server
let server;
before(async () => { server = await startBatteryServer(["--max-request-bytes", String(LIMIT), "--header-timeout", "1"]); });
after(async () => { await stopBatteryServer(server); });
const s = () => server;

async function raw(bytes, options) {
  const { text } = await rawExchange(server.port, bytes, options);
  return parseResponses(text);
}

const jsonHead = (extra = "") =>
  `POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n${extra}`;

caseTest(s, "A1", "malformed JSON, trailing garbage, non-objects, repeated keys, 10 000-deep nesting: 400, never 500",
  async (server) => {
    const bodies = {
      "truncated JSON": '{"model":',
      "trailing garbage": '{"prompt":"x"} x',
      "an array": "[]",
      "a number": "42",
      "null": "null",
      "a string": '"x"',
      "a repeated key": '{"prompt":"x","prompt":"y"}',
      "10000-deep arrays": "[".repeat(10000) + "]".repeat(10000),
      "10000-deep objects": '{"a":'.repeat(10000) + "1" + "}".repeat(10000),
      "an empty body": "",
    };
    for (const [what, body] of Object.entries(bodies)) {
      const r = await server.post("/v1/completions", body);
      assert.equal(r.status, 400, `${what}: ${r.text}`);
      assertOpenAiError(r.json, "invalid_request_error");
      assert.equal(r.headers.get("content-type"), "application/json");
      assert.equal(r.json.error.param, null, what);
    }
  });

caseTest(s, "A2", "form, text/plain and missing Content-Type on /v1/chat/completions: 415, body not processed",
  async (server) => {
    const before = await metrics(server.url);
    const body = JSON.stringify({ messages: [{ role: "user", content: "hello there" }], max_tokens: 4 });
    for (const type of ["application/x-www-form-urlencoded", "text/plain", null]) {
      const headers = type ? { "Content-Type": type } : {};
      const [r] = await raw(httpRequest("POST", "/v1/chat/completions", { headers, body }));
      assert.equal(r.status, 415, String(type));
      assertOpenAiError(r.json, "invalid_request_error");
      assert.equal(r.json.error.code, "unsupported_media_type");
    }
    const after = await metrics(server.url);
    assert.equal(after.tern_prompt_tokens_total, before.tern_prompt_tokens_total, "nothing reached the engine");
  });

// Peak RssAnon of the server while `work` runs, sampled every few ms, minus before.
async function rssGrowthDuring(pid, work) {
  const rss = () => Number(/RssAnon:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "latin1"))[1]) * 1024;
  const base = rss();
  let peak = base;
  let done = false;
  const sampler = (async () => { while (!done) { peak = Math.max(peak, rss()); await sleep(2); } })();
  try {
    await work();
  } finally {
    done = true;
    await sampler;
  }
  return peak - base;
}

caseTest(s, "A3", "2x the body limit by Content-Length and chunked (1-byte chunks too), 300 headers, an 8 MB header, slowloris",
  async (server) => {
    const growth = await rssGrowthDuring(server.proc.pid, async () => {
      // Declared too large: answered from the headers alone, the body never sent.
      const [declared] = await raw(jsonHead(`Content-Length: ${2 * LIMIT}\r\n\r\n`) + "{");
      assert.equal(declared.status, 413);
      assertOpenAiError(declared.json, "invalid_request_error");
      assert.equal(declared.json.error.code, "request_too_large");
      // Chunked, 4 KiB chunks and 1-byte chunks (Triton CVE-2025-23310).
      const big = "a".repeat(4096);
      const chunks4k = Array.from({ length: (2 * LIMIT) / 4096 }, () => `1000\r\n${big}\r\n`).join("");
      const [c4k] = await raw(jsonHead("Transfer-Encoding: chunked\r\n\r\n") + chunks4k + "0\r\n\r\n");
      assert.equal(c4k.status, 413);
      const chunks1 = "1\r\na\r\n".repeat(2 * LIMIT);
      const [c1] = await raw(jsonHead("Transfer-Encoding: chunked\r\n\r\n") + chunks1 + "0\r\n\r\n", { timeoutMs: 20000 });
      assert.equal(c1.status, 413);
    });
    // ASan's quarantine and shadow memory would dominate the number: measured without it.
    if (slow === 1) assert.ok(growth < 2 * LIMIT, `RssAnon grew by ${growth} bytes; the limit is ${LIMIT}`);

    const many = Array.from({ length: 300 }, (_, i) => `X-H${i}: v`).join("\r\n");
    const [manyHeaders] = await raw(`GET /health HTTP/1.1\r\nHost: localhost\r\n${many}\r\n\r\n`);
    assert.equal(manyHeaders.status, 431);
    assertOpenAiError(manyHeaders.json, "invalid_request_error");

    // One 8 MB header: refused after the 16 KiB header limit, without reading the rest.
    const [huge] = await raw(`GET /health HTTP/1.1\r\nHost: localhost\r\nX-Big: ${"a".repeat(8 << 20)}\r\n\r\n`);
    assert.equal(huge.status, 431);

    // Slowloris: a byte every 5 s; --header-timeout 1 closes the connection.
    const start = Date.now();
    const closed = await new Promise((resolve) => {
      const socket = net.connect(server.port, "127.0.0.1");
      const request = "GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n";
      let i = 0;
      const drip = () => { if (i < request.length) socket.write(request[i++]); };
      const timer = setInterval(drip, 5000);
      socket.on("connect", drip);
      socket.on("close", () => { clearInterval(timer); resolve(true); });
      socket.on("error", () => {});
      setTimeout(() => { clearInterval(timer); socket.destroy(); resolve(false); }, 8000);
    });
    assert.ok(closed, "the slow client was disconnected");
    assert.ok(Date.now() - start < 4000, `closed after ${Date.now() - start} ms`);
  });

caseTest(s, "A4", "unknown path 404, wrong method 405, OPTIONS preflight, HTTP/1.0, pipelined keep-alive requests in order",
  async (server) => {
    const nf = await fetch(server.url + "/v2/nothing");
    assert.equal(nf.status, 404);
    const nfBody = await nf.json();
    assertOpenAiError(nfBody, "not_found_error");
    assert.equal(nfBody.error.code, "not_found");
    const wm = await fetch(server.url + "/v1/chat/completions");
    assert.equal(wm.status, 405);
    assert.equal(wm.headers.get("allow"), "POST, OPTIONS");
    assertOpenAiError(await wm.json(), "invalid_request_error");
    // Preflight: no allowlist here, so no CORS headers (D3 has the allowlist side).
    const pre = await fetch(server.url + "/v1/chat/completions", {
      method: "OPTIONS", headers: { Origin: "https://evil.example", "Access-Control-Request-Method": "POST" } });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get("access-control-allow-origin"), null);
    // HTTP/1.0 without Host: answered, then closed.
    const [old] = await raw("GET /health HTTP/1.0\r\n\r\n");
    assert.equal(old.status, 200);
    // Four pipelined requests on one connection come back in order.
    const one = (prompt) => {
      const body = JSON.stringify({ prompt });
      return `POST /tokenize HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n` +
             `Content-Length: ${body.length}\r\n\r\n${body}`;
    };
    const prompts = ["pipelined one", "pipelined two two", "pipelined three three three"];
    prompts.forEach((p) => server.remember(p));
    const { text } = await rawExchange(server.port, prompts.map(one).join("") +
                                       "GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    const rs = parseResponses(text);
    assert.deepEqual(rs.map((r) => r.status), [200, 200, 200, 200]);
    const counts = rs.slice(0, 3).map((r) => r.json.count);
    assert.ok(counts[0] < counts[1] && counts[1] < counts[2], counts.join(","));
    // Kept alive after a pipelined pair, the next request is answered as itself (the
    // server once parsed stale bytes of the pair again: a tokenize answered as /health).
    const socket = net.connect(server.port, "127.0.0.1");
    let received = "";
    socket.on("data", (d) => { received += d.toString("latin1"); });
    socket.on("error", () => {});
    await new Promise((resolve) => socket.on("connect", resolve));
    const until = async (n) => {
      const deadline = Date.now() + 5000 * slow;
      while (parseResponses(received).length < n) {
        assert.ok(Date.now() < deadline, `${n} responses expected:\n${received}`);
        await sleep(10);
      }
    };
    try {
      socket.write(one(prompts[0]) + "GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n");
      await until(2);
      for (const p of [prompts[2], prompts[1]]) {
        const before = parseResponses(received).length;
        socket.write(one(p));
        await until(before + 1);
        const r = parseResponses(received).at(-1);
        assert.equal(r.status, 200, r.body);
        assert.equal(r.json?.count, counts[prompts.indexOf(p)], r.body);
      }
    } finally {
      socket.destroy();
    }
  });

// Issue 23, finding 1 (RFC 9112 §6.1, §6.3): a Transfer-Encoding the server does not
// decode must not leave the body's bytes to be read as the next request. Each payload
// smuggles a `GET /metrics` in the body of a POST; the only answer is a 400, and the
// connection closes.
caseTest(s, "A5", "request smuggling: Transfer-Encoding not ending in chunked, or on HTTP/1.0, is 400 and closes the connection",
  async (server) => {
    const smuggled = "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n";
    const chunkedSmuggle = `${smuggled.length.toString(16)}\r\n${smuggled}\r\n0\r\n\r\n`;
    const post = (version, te, body) =>
      `POST /tokenize HTTP/${version}\r\nHost: localhost\r\nContent-Type: application/json\r\n` +
      `Connection: keep-alive\r\n${te.map((v) => `Transfer-Encoding: ${v}\r\n`).join("")}\r\n${body}`;
    const payloads = {
      "an unknown coding (xchunked)": post("1.1", ["xchunked"], smuggled),
      "chunked not last (chunked, identity)": post("1.1", ["chunked, identity"], chunkedSmuggle),
      "identity alone": post("1.1", ["identity"], smuggled),
      "a coding tern does not decode before chunked (gzip, chunked)": post("1.1", ["gzip, chunked"], chunkedSmuggle),
      "two fields, chunked then identity": post("1.1", ["chunked", "identity"], chunkedSmuggle),
      "chunked on HTTP/1.0": post("1.0", ["chunked"], chunkedSmuggle),
      "an unknown coding on HTTP/1.0": post("1.0", ["xchunked"], smuggled),
    };
    for (const [what, bytes] of Object.entries(payloads)) {
      const { text, closed } = await rawExchange(server.port, bytes);
      const rs = parseResponses(text);
      assert.deepEqual(rs.map((r) => r.status), [400], `${what}: one 400 and nothing for the smuggled request:\n${text}`);
      assertOpenAiError(rs[0].json, "invalid_request_error");
      assert.match(rs[0].json.error.message, /Transfer-Encoding/, what);
      assert.equal(rs[0].headers.connection, "close", what);
      assert.ok(closed, `${what}: the connection is closed`);
      assert.ok(!text.includes("tern_"), `${what}: the smuggled /metrics was answered`);
    }
    // The one coding tern decodes, in any case, on HTTP/1.1: served.
    const body = JSON.stringify({ prompt: "chunked is fine" });
    server.remember("chunked is fine");
    const ok = `POST /tokenize HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n` +
               `Transfer-Encoding: Chunked\r\nConnection: close\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
    const [r] = parseResponses((await rawExchange(server.port, ok)).text);
    assert.equal(r.status, 200, r.body);
  });

// Issue 23, finding 10 (RFC 9112 §3.2): an HTTP/1.1 request needs exactly one Host, and
// no request may carry two.
caseTest(s, "A6", "Host: missing, empty or repeated on HTTP/1.1, repeated on HTTP/1.0: 400 and closed; HTTP/1.0 without Host served",
  async (server) => {
    const cases = {
      "HTTP/1.1 without Host": "GET /health HTTP/1.1\r\n\r\n",
      "HTTP/1.1 with an empty Host": "GET /health HTTP/1.1\r\nHost:\r\n\r\n",
      "HTTP/1.1 with two Hosts": "GET /health HTTP/1.1\r\nHost: localhost\r\nHost: localhost\r\n\r\n",
      "HTTP/1.1 with two different Hosts": "GET /health HTTP/1.1\r\nHost: localhost\r\nHost: attacker.example\r\n\r\n",
      "HTTP/1.0 with two Hosts": "GET /health HTTP/1.0\r\nHost: localhost\r\nHost: localhost\r\n\r\n",
    };
    for (const [what, bytes] of Object.entries(cases)) {
      const { text, closed } = await rawExchange(server.port, bytes + "GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n");
      const rs = parseResponses(text);
      assert.deepEqual(rs.map((r) => r.status), [400], `${what}:\n${text}`);
      assertOpenAiError(rs[0].json, "invalid_request_error");
      assert.match(rs[0].json.error.message, /Host/, what);
      assert.ok(closed, `${what}: closed`);
    }
    const [old] = await raw("GET /health HTTP/1.0\r\n\r\n");
    assert.equal(old.status, 200);
    const [one] = await raw("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    assert.equal(one.status, 200);
  });

// Issue 23, finding 12: an error quotes at most a short fragment of what the request sent.
caseTest(s, "A7", "errors quote at most 64 bytes of the request: a 1 MB unterminated string, 256 KB keys, a 15 KB path, an 8 KB method",
  async (server) => {
    const MAX_BODY = 600;  // the longest of our own messages plus two 64-byte fragments
    const huge = "x".repeat(1 << 17) + "\u00e9".repeat(1 << 16);  // 256 KiB, multibyte at the end
    const bodies = {
      "an unterminated 1 MB string": `{"prompt":"${"y".repeat(1_000_000)}`,
      "an unterminated string of multibyte text": `{"prompt":"${huge}${huge}`,
      "a repeated 256 KB key": `{"${huge}":1,"${huge}":2}`,
      "a 256 KB key holding a number too large": `{"${huge}":1e999}`,
      "a 256 KB chat_template_kwargs key": JSON.stringify({ messages: [{ role: "user", content: "hi there" }],
                                                         chat_template_kwargs: { [huge]: true } }),
    };
    for (const [what, body] of Object.entries(bodies)) {
      const route = what.includes("chat_template") ? "/v1/chat/completions" : "/v1/completions";
      const r = await server.post(route, body);
      assert.equal(r.status, 400, what);
      assertOpenAiError(r.json, "invalid_request_error");
      assert.ok(Buffer.byteLength(r.text) < MAX_BODY, `${what}: a ${Buffer.byteLength(r.text)}-byte error body`);
      const param = r.json.error.param ?? "";
      assert.ok(param.length <= 100, `${what}: a ${param.length}-byte param`);  // a field path and 64 bytes
    }
    const [path] = await raw(`GET /${"p".repeat(15 << 10)} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
    assert.equal(path.status, 404);
    assert.ok(path.body.length < MAX_BODY, `a ${path.body.length}-byte 404 body`);
    const [method] = await raw(`${"M".repeat(8 << 10)} /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
    assert.equal(method.status, 405);
    assert.ok(method.body.length < MAX_BODY, `a ${method.body.length}-byte 405 body`);
    const [both] = await raw(`${"M".repeat(8 << 10)} /v1/${"p".repeat(7 << 10)} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
    assert.ok(both.body.length < MAX_BODY, `a ${both.body.length}-byte ${both.status} body`);
  });

// Issue 23, finding 9: load balancers probe with HEAD.
caseTest(s, "A8", "HEAD wherever GET is allowed: the GET's status and headers, no body; HEAD on a POST route is 405",
  async (server) => {
    for (const target of ["/health", "/v1/models", "/metrics", "/"]) {
      const get = parseResponses((await rawExchange(server.port,
        `GET ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`)).text)[0];
      const { text, closed } = await rawExchange(server.port,
        `HEAD ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
      assert.ok(closed);
      const headEnd = text.indexOf("\r\n\r\n");
      assert.ok(headEnd > 0, `${target}: ${text}`);
      assert.equal(text.length, headEnd + 4, `${target}: HEAD has no body: ${JSON.stringify(text)}`);
      const status = Number(text.split(" ")[1]);
      assert.equal(status, 200, `${target}: ${text}`);
      assert.equal(status, get.status, target);
      const length = /\r\ncontent-length: (\d+)/i.exec(text);
      assert.ok(length, `${target}: Content-Length`);
      if (target !== "/metrics") assert.equal(Number(length[1]), get.body.length, target);  // metrics change between calls
    }
    // Kept alive: the next request on the connection is read as itself, not as a body.
    const { text } = await rawExchange(server.port, "HEAD /health HTTP/1.1\r\nHost: localhost\r\n\r\n" +
                                                    "GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    assert.equal((text.match(/^HTTP\/1\.1 200/gm) || []).length, 2, text);
    assert.ok(text.endsWith('{"status":"ok"}'), text);
    const wm = await fetch(server.url + "/v1/completions", { method: "HEAD" });
    assert.equal(wm.status, 405);
    assert.equal(wm.headers.get("allow"), "POST, OPTIONS");
    const get = await fetch(server.url + "/v1/chat/completions");
    assert.equal(get.status, 405);
    const health = await fetch(server.url + "/health", { method: "POST" });
    assert.equal(health.headers.get("allow"), "GET, HEAD, OPTIONS");
  });
