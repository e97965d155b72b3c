// Battery group H, faults and lifecycle (docs/reliability.md): shutdown, start-up memory
// errors, an engine failure and NaN logits (both injected through the test hooks), and
// request-scoped compile failures.
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, test } from "node:test";

import { metrics, readSse, startServer, tinyModel, waitFor } from "../helpers.mjs";
import { assertOpenAiError, caseTest, hooksBuilt, slow, startBatteryServer, stopBatteryServer } from "./harness.mjs";
import { serveUntilExit } from "./model_variants.mjs";

const hooksOnly = hooksBuilt ? false : "needs -DTERN_TEST_HOOKS=ON (the sanitizer CI build has it)";

async function openStream(server, body) {
  const response = await fetch(server.url + "/v1/completions", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ ...body, stream: true }) });
  assert.equal(response.status, 200);
  return response;
}

function finishReasons(events) {
  assert.equal(events.at(-1), "[DONE]");
  return events.slice(0, -1).flatMap((e) => (e.choices ?? []).filter((c) => c.finish_reason).map((c) => c.finish_reason));
}

// What a server that is gone can still be checked for: its log.
function assertCleanLog(log) {
  assert.doesNotMatch(log, /AddressSanitizer|LeakSanitizer|runtime error:|terminate called|#\d+ 0x/);
  assert.ok(!log.includes("Shutdown probe"), "no prompt text in the log");
}

const LONG = { prompt: "Shutdown probe story", max_tokens: 300, ignore_eos: true };

describe("H1: SIGTERM with 10 streams in flight", () => {
  test("H1 (a): --shutdown-timeout 30: health flips at once, new requests are refused, the streams finish, exit 0",
    { timeout: 120000 * slow }, async () => {
      const server = await startServer(["--shutdown-timeout", "30"]);
      const kept = net.connect(server.port, "127.0.0.1");
      await new Promise((resolve) => kept.on("connect", resolve));
      const streams = await Promise.all(Array.from({ length: 10 }, () => openStream(server, LONG)));
      server.proc.kill("SIGTERM");
      await waitFor(() => /shutting down/.test(server.log()), 2000 * slow, "the signal to be seen");
      const answer = await new Promise((resolve) => {
        let text = "";
        kept.on("data", (d) => { text += d; if (text.includes("\r\n\r\n")) resolve(text); });
        kept.write("GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n");
      });
      kept.destroy();
      assert.match(answer, /^HTTP\/1\.1 503 /);
      assert.match(answer, /shutting_down/);
      const late = await fetch(server.url + "/health").catch((e) => e);
      assert.ok(late instanceof Error || late.status === 503, String(late.status));
      const events = await Promise.all(streams.map(readSse));
      for (const e of events) assert.deepEqual(finishReasons(e), ["length"]);
      assert.equal((await server.exited).code, 0);
      assertCleanLog(server.log());
    });

  test("H1 (b): --shutdown-timeout 0: in-flight streams end with finish_reason abort and [DONE] within 1 s, exit 0",
    { timeout: 120000 * slow }, async () => {
      const server = await startServer(["--shutdown-timeout", "0"]);
      const streams = await Promise.all(Array.from({ length: 10 }, () => openStream(server, { ...LONG, max_tokens: 480 })));
      const start = Date.now();
      server.proc.kill("SIGTERM");
      const events = await Promise.all(streams.map(readSse));
      const ended = Date.now() - start;
      const reasons = events.map(finishReasons).flat();
      assert.equal(reasons.length, 10);
      assert.ok(reasons.includes("abort"), reasons.join(","));
      assert.ok(ended < 1000 * slow, `${ended} ms`);
      assert.equal((await server.exited).code, 0);
      assertCleanLog(server.log());
    });

  test("H1 (c): a second SIGTERM exits at once", { timeout: 120000 * slow }, async () => {
    const server = await startServer(["--shutdown-timeout", "60"]);
    const streams = await Promise.all(Array.from({ length: 10 }, () => openStream(server, { ...LONG, max_tokens: 480 })));
    server.proc.kill("SIGTERM");
    await waitFor(() => /shutting down/.test(server.log()), 2000 * slow, "the first signal to be seen");
    const start = Date.now();
    server.proc.kill("SIGTERM");
    const { code } = await server.exited;
    assert.notEqual(code, 0);
    assert.ok(Date.now() - start < 1000 * slow);
    await Promise.allSettled(streams.map((s) => s.text()));
    assertCleanLog(server.log());
  });
});

describe("H2: start-up memory misconfiguration", () => {
  const fails = async (args, pattern) => {
    const r = await serveUntilExit(tinyModel, args);
    assert.equal(r.code, 1, r.log.slice(-1500));
    assert.ok(!r.healthy, "/health never answered 200");
    assert.ok(r.ms < 60000, `${r.ms} ms`);
    assert.match(r.log, pattern);
    assertCleanLog(r.log);
  };
  test("H2: a KV budget too small for one max_model_len sequence: exit 1 naming the need, the budget and a max_model_len that fits",
    { timeout: 120000 * slow }, async () => {
      await fails(["--kv-cache-memory", "0.0001"],
                  /not enough memory for the KV cache of one 512-token sequence: it needs 32 blocks .* MB, but --kv-cache-memory .* leaves room for \d+ blocks .*Use --max-model-len \d+ or less/);
      await fails(["--num-kv-blocks", "10"], /--num-kv-blocks 10 leaves room for 10 blocks.*Use --max-model-len 160 or less/);
    });
  test("H2: --max-model-len beyond the model's limit: exit 1", { timeout: 120000 * slow }, async () => {
    await fails(["--max-model-len", "100000"], /--max-model-len 100000 exceeds the model's max_position_embeddings 512/);
  });
});

describe("H3: the engine fails at a model step (test hooks)", { skip: hooksOnly }, () => {
  test("H3: every in-flight request gets an error, /health turns 503, new requests get 503 engine_failed",
    { timeout: 120000 * slow }, async () => {
      const server = await startServer(["--max-num-seqs", "8"], { env: { TERN_TEST_HOOKS: "fail=9999@5,step_delay_ms=5" } });
      const others = await Promise.all(Array.from({ length: 3 }, () => openStream(server, LONG)));
      const whole = fetch(server.url + "/v1/completions", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ ...LONG, seed: 9999 }) });
      const failed = await whole;
      assert.equal(failed.status, 500);
      const body = await failed.json();
      assertOpenAiError(body, "server_error");
      assert.equal(body.error.code, "engine_failed");
      for (const events of await Promise.all(others.map(readSse))) {
        assert.equal(events.at(-1), "[DONE]");
        assert.equal(events.at(-2).error.code, "engine_failed");
      }
      await waitFor(async () => (await fetch(server.url + "/health")).status === 503, 5000, "/health to say 503");
      const after = await fetch(server.url + "/v1/completions", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ prompt: "x" }) });
      assert.equal(after.status, 503);
      assert.equal((await after.json()).error.code, "engine_failed");
      assert.equal((await metrics(server.url)).tern_engine_healthy, 0);
      // Policy: the process stays up answering 503 so a supervisor restarts it; it still
      // shuts down cleanly.
      assert.equal((await server.stop()).code, 0);
      assertCleanLog(server.log());
    });
});

describe("H4: NaN logits for one sequence of eight (test hooks)", () => {
  let server;
  before(async () => {
    if (hooksBuilt) server = await startBatteryServer(["--max-num-seqs", "8"], { env: { TERN_TEST_HOOKS: "nan=5555@0" } });
  });
  after(async () => { if (server) await stopBatteryServer(server); });

  caseTest(() => server, "H4", "that request fails with 500 numerical_error and no tokens; the other 7 are byte-identical; nothing is cached",
    async (server) => {
      const prompts = Array.from({ length: 8 }, (_, i) => Array.from({ length: 60 }, (_, j) => (i * 101 + j * 7) % 1000));
      const body = (p) => ({ prompt: p, max_tokens: 24, temperature: 0, ignore_eos: true });
      const control = [];
      for (const p of prompts.slice(0, 7)) control.push((await server.post("/v1/completions", body(p))).json.choices[0].text);
      const before = await metrics(server.url);
      const results = await Promise.all(prompts.map((p, i) =>
        server.post("/v1/completions", i === 7 ? { ...body(p), seed: 5555 } : body(p))));
      for (let i = 0; i < 7; ++i) assert.equal(results[i].json.choices[0].text, control[i], `request ${i}`);
      const nan = results[7];
      assert.equal(nan.status, 500, nan.text);
      assertOpenAiError(nan.json, "server_error");
      assert.equal(nan.json.error.code, "numerical_error");
      const after = await metrics(server.url);
      assert.equal(after.tern_numerical_errors_total, before.tern_numerical_errors_total + 1);
      // Its prompt's KV never entered the prefix cache: the first rerun finds nothing, the
      // second finds what the first computed.
      const again = await server.post("/v1/completions", body(prompts[7]));
      assert.equal(again.json.usage.prompt_tokens_details?.cached_tokens ?? 0, 0);
      const third = await server.post("/v1/completions", body(prompts[7]));
      assert.ok(third.json.usage.prompt_tokens_details.cached_tokens > 0);
    }, { allow5xx: [500], hooks: true });
});

describe("H5: request-scoped compile failures", () => {
  let server;
  before(async () => { server = await startBatteryServer(); });
  after(async () => { await stopBatteryServer(server); });

  caseTest(() => server, "H5", "JSON schemas, regexes, grammars and malformed tools are 400s within 2 s; the engine serves on",
    async (server) => {
      const messages = [{ role: "user", content: "Compile probe" }];
      const cases = [
        [{ messages, response_format: { type: "json_schema", json_schema: { name: "x", schema: { type: 12 } } } },
         "response_format.json_schema.schema"],
        [{ messages, response_format: { type: "json_schema", json_schema: { name: "x", schema: {
          type: "string", pattern: "(a)\\1" } } } }, "response_format.json_schema.schema"],
        [{ messages, guided_regex: "(a+)+$".repeat(1000) }, "guided_regex"],
        [{ messages, guided_regex: "(a|b)*a(a|b){24}" }, "guided_regex"],  // 2^25 DFA states: over the limit
        [{ messages, guided_regex: "[a-z]{1,60000}[0-9]{1,60000}" }, "guided_regex"],
        [{ messages, guided_grammar: "root ::= " + "x ".repeat(100000) }, "guided_grammar"],
        [{ messages, guided_json: { type: "object", patternProperties: {} } }, "guided_json"],
        [{ messages, tools: [{ type: "function", function: { name: "f", parameters: "not a schema" } }] },
         "tools[0].function.parameters"],
        [{ messages, tools: [{ type: "function", function: { name: "bad name!" } }] }, "tools[0].function.name"],
        [{ messages, tools: Array.from({ length: 129 }, (_, i) => ({ type: "function", function: { name: `f${i}` } })) },
         "tools"],
      ];
      for (const [body, param] of cases) {
        const start = performance.now();
        const r = await server.post("/v1/chat/completions", body);
        assert.equal(r.status, 400, r.text);
        assert.equal(r.json.error.param, param);
        assert.ok(performance.now() - start < 2000 * slow);
      }
    });
});
