// Battery group F, streaming and cancellation (docs/reliability.md): the SSE contract with
// keep-alives and a mid-stream error, disconnects in every phase, a timeout storm, and
// clients that stop reading.
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe } from "node:test";

import { metrics, readSse, waitFor } from "../helpers.mjs";
import { caseTest, hooksBuilt, sleep, slow, startBatteryServer, stopBatteryServer } from "./harness.mjs";

const NAN_SEED = 4321;  // test hooks: NaN logits from this sequence's 4th token on

function openStream(server, route, body, signal) {
  return fetch(server.url + route, {
    method: "POST", headers: { "Content-Type": "application/json" }, signal,
    body: JSON.stringify({ ...body, stream: true }) });
}

// Reads a stream until `count` data events arrived (or it ends); returns the raw text.
async function readEvents(response, count) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while ((text.match(/^data: /gm) || []).length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  return { text, reader };
}

describe("two running sequences, chunked prefill, keep-alives every 0.2 s", () => {
  let server;
  before(async () => {
    server = await startBatteryServer(["--max-num-seqs", "2", "--max-num-batched-tokens", "32", "--sse-ping-interval", "0.2"],
                                      { env: { TERN_TEST_HOOKS: `step_delay_ms=20,nan=${NAN_SEED}@3` } });
  });
  after(async () => { await stopBatteryServer(server); });
  const s = () => server;

  caseTest(s, "F1", "SSE framing for chat and completions with usage", async (server) => {
    for (const [route, body] of [["/v1/completions", { prompt: "Stream contract", max_tokens: 6 }],
                                 ["/v1/chat/completions", { messages: [{ role: "user", content: "Stream contract" }],
                                                            max_tokens: 6 }]]) {
      server.remember(body);
      const response = await openStream(server, route, { ...body, stream_options: { include_usage: true } });
      assert.equal(response.status, 200);
      assert.match(response.headers.get("content-type"), /^text\/event-stream/);
      const text = await response.text();
      assert.ok(text.endsWith("data: [DONE]\n\n"));
      const blocks = text.split("\n\n").filter((b) => b);
      for (const block of blocks) assert.ok(/^data: /.test(block) || /^: /.test(block), JSON.stringify(block));
      const events = blocks.filter((b) => b.startsWith("data: ")).map((b) => b.slice(6));
      assert.equal(events.at(-1), "[DONE]");
      const usage = JSON.parse(events.at(-2));
      assert.deepEqual(usage.choices, []);
      assert.equal(usage.usage.completion_tokens, 6);
      for (const e of events.slice(0, -2)) assert.equal(JSON.parse(e).usage, null);
    }
  });

  // Without the hooks' slow steps the two long requests end within about one ping
  // interval, so the third may never wait long enough to hear one.
  caseTest(s, "F1", "keep-alive comments while queued (slow steps through the test hooks)", async (server) => {
    // Two long requests fill both running slots; a third waits and hears keep-alives.
    const controller = new AbortController();
    const long = { prompt: "Occupy a slot", max_tokens: 400, ignore_eos: true };
    server.remember(long);
    const busy = [openStream(server, "/v1/completions", long, controller.signal),
                  openStream(server, "/v1/completions", long, controller.signal)];
    await waitFor(async () => (await metrics(server.url)).tern_requests_running === 2, 5000 * slow, "two running");
    const queued = await openStream(server, "/v1/completions", { prompt: "Waiting in line", max_tokens: 2 },
                                    controller.signal);
    server.remember("Waiting in line");
    assert.equal(queued.status, 200);
    const reader = queued.body.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    assert.match(first, /^: keep-alive\n\n/);
    assert.equal((await metrics(server.url)).tern_requests_waiting, 1);
    controller.abort();
    await Promise.allSettled(busy);
  }, { hooks: true });

  caseTest(s, "F1", "an error mid-stream is one error event, then [DONE] (NaN logits through the test hooks)",
    async (server) => {
      const response = await openStream(server, "/v1/completions",
                                        { prompt: "Mid-stream fault", max_tokens: 20, seed: NAN_SEED });
      server.remember("Mid-stream fault");
      const events = await readSse(response);
      assert.equal(events.at(-1), "[DONE]");
      const errors = events.filter((e) => e !== "[DONE]" && e.error);
      assert.equal(errors.length, 1);
      assert.equal(errors[0].error.code, "numerical_error");
      assert.equal(events.at(-2), errors[0], "the error is the last event before [DONE]");
      const texts = events.filter((e) => e !== "[DONE]" && !e.error);
      const tokens = texts.reduce((n, e) => n + (e.choices[0]?.text !== undefined ? 1 : 0), 0);
      assert.ok(tokens >= 1 && tokens <= 3, `${tokens} chunks: the three tokens before the fault at most, nothing after`);
    }, { hooks: true });

  caseTest(s, "F2", "a client leaving while queued, in prefill, mid-decode, or waiting for a whole answer: aborted at once, KV freed",
    async (server) => {
      const before = await metrics(server.url);
      const disconnects = () => metrics(server.url).then((m) => m.tern_client_disconnects_total);
      const idle = async () => {
        const m = await metrics(server.url);
        return m.tern_requests_running === 0 && m.tern_requests_waiting === 0 &&
               m.tern_kv_cache_blocks_free === server.baseline.kvFree;
      };
      const timeAbort = async (controller) => {
        const start = performance.now();
        controller.abort();
        await waitFor(idle, 2000 * slow, "the engine to drop the request");
        return performance.now() - start;
      };
      const long = { prompt: "Keep decoding for a while", max_tokens: 400, ignore_eos: true };
      server.remember(long);

      // (a) Queued: both slots busy; the third request leaves before it ever starts.
      const holders = new AbortController();
      const held = [openStream(server, "/v1/completions", long, holders.signal),
                    openStream(server, "/v1/completions", long, holders.signal)];
      await waitFor(async () => (await metrics(server.url)).tern_requests_running === 2, 5000 * slow, "two running");
      const queries = (await metrics(server.url)).tern_prefix_cache_queries_total;
      const queuedController = new AbortController();
      const queued = openStream(server, "/v1/completions", { prompt: Array(100).fill(9), max_tokens: 5 },
                                queuedController.signal).catch((e) => e);
      await waitFor(async () => (await metrics(server.url)).tern_requests_waiting === 1, 5000 * slow, "one waiting");
      queuedController.abort();
      await queued;
      await waitFor(async () => (await metrics(server.url)).tern_requests_waiting === 0, 1000 * slow, "the queue to empty");
      assert.equal((await metrics(server.url)).tern_prefix_cache_queries_total, queries, "the queued request never started");
      holders.abort();
      await Promise.allSettled(held);
      await waitFor(idle, 2000 * slow, "the holders to be dropped");

      // (b) During a chunked prefill (slow steps through the test hooks).
      if (hooksBuilt) {
        const controller = new AbortController();
        const pending = openStream(server, "/v1/completions", { prompt: Array(480).fill(11), max_tokens: 5 },
                                   controller.signal).catch((e) => e);
        await waitFor(async () => (await metrics(server.url)).tern_requests_running === 1, 5000 * slow, "the prefill");
        const generated = (await metrics(server.url)).tern_generation_tokens_total;
        const ms = await timeAbort(controller);
        await pending;
        assert.equal((await metrics(server.url)).tern_generation_tokens_total, generated, "aborted before any token");
        assert.ok(ms < 1000 * slow, `prefill abort took ${ms} ms`);
      }

      // (c) Mid-decode, after 5 streamed tokens.
      const decodeController = new AbortController();
      const { reader } = await readEvents(await openStream(server, "/v1/completions", long, decodeController.signal), 5);
      const decodeMs = await timeAbort(decodeController);
      await reader.cancel().catch(() => {});
      assert.ok(decodeMs < 1000 * slow, `decode abort took ${decodeMs} ms`);

      // (d) A non-streaming request mid-decode: slow steps (the test hooks) keep it running
      // until the client leaves; without them the tiny model answers 400 tokens in a few ms.
      if (hooksBuilt) {
        const wholeController = new AbortController();
        const whole = fetch(server.url + "/v1/completions", {
          method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(long),
          signal: wholeController.signal }).catch((e) => e);
        await waitFor(async () => (await metrics(server.url)).tern_requests_running === 1, 5000 * slow, "it to run");
        await sleep(50);
        await timeAbort(wholeController);
        assert.equal((await whole).name, "AbortError");
      }

      const expected = 2 + (hooksBuilt ? 2 : 0) + 2;  // the queued one, decode, [prefill, whole], two holders
      await waitFor(async () => (await disconnects()) === before.tern_client_disconnects_total + expected, 1000 * slow,
                    "the disconnect counter");
    });

  // Issue 23, finding 7: a request the client leaves gets its access-log line like every
  // other, with nginx's 499 (client closed request).
  caseTest(s, "F5", "every request a client leaves has its access-log line, with status 499", async (server) => {
    const logStart = server.log().length;
    const disconnects = async () => (await metrics(server.url)).tern_client_disconnects_total;
    const before = await disconnects();
    const long = { prompt: "Leave me in the log", max_tokens: 400, ignore_eos: true };
    server.remember(long);
    const streamController = new AbortController();
    const { reader } = await readEvents(await openStream(server, "/v1/completions", long, streamController.signal), 3);
    streamController.abort();
    await reader.cancel().catch(() => {});
    const wholeController = new AbortController();
    const whole = fetch(server.url + "/v1/chat/completions", {
      method: "POST", headers: { "Content-Type": "application/json" }, signal: wholeController.signal,
      body: JSON.stringify({ messages: [{ role: "user", content: long.prompt }], max_tokens: 400, ignore_eos: true }),
    }).catch((e) => e);
    await waitFor(async () => (await metrics(server.url)).tern_requests_running === 1, 5000 * slow, "it to run");
    wholeController.abort();
    await whole;
    await waitFor(async () => (await disconnects()) === before + 2, 2000 * slow, "two disconnects");
    await sleep(100);
    const lines = server.log().slice(logStart).split("\n").filter((l) => / -> 499 /.test(l));
    assert.equal(lines.length, 2, server.log().slice(logStart));
    assert.match(lines[0], /request [0-9a-f]{16} POST \/v1\/completions -> 499 \(\d+ ms\)$/);
    assert.match(lines[1], /request [0-9a-f]{16} POST \/v1\/chat\/completions -> 499 \(\d+ ms\)$/);
  });

  caseTest(s, "F3", "a storm of 200 long requests with a 0.5 s client timeout: all aborted, then the canary within 5 s",
    async (server) => {
      const before = await metrics(server.url);
      const body = JSON.stringify({ prompt: "Storm request", max_tokens: 480, ignore_eos: true });
      server.remember("Storm request");
      const results = await Promise.all(Array.from({ length: 200 }, () => fetch(server.url + "/v1/completions", {
        method: "POST", headers: { "Content-Type": "application/json" }, body,
        signal: AbortSignal.timeout(500) }).then((r) => r.status, (e) => e.name)));
      // The first two may finish within 0.5 s on a fast machine; every other one times out.
      assert.ok(results.every((r) => r === "TimeoutError" || r === 200), [...new Set(results)].join(","));
      const timedOut = results.filter((r) => r === "TimeoutError").length;
      assert.ok(timedOut >= 190, `${timedOut} timed out`);
      // Nothing of the storm is left running or queued: every one was aborted (those the
      // server had not even read yet never started).
      await waitFor(async () => {
        const m = await metrics(server.url);
        return m.tern_requests_running === 0 && m.tern_requests_waiting === 0;
      }, 5000 * slow, "every timed-out request to be aborted");
      const after = await metrics(server.url);
      assert.ok(after.tern_client_disconnects_total - before.tern_client_disconnects_total <= timedOut);
      assert.ok(after['tern_requests_total{finish_reason="abort"}'] > before['tern_requests_total{finish_reason="abort"}']);
      const start = performance.now();
      const canary = await server.post("/v1/completions", { prompt: "After the storm", max_tokens: 8, temperature: 0 });
      assert.equal(canary.status, 200);
      assert.ok(performance.now() - start < 5000 * slow, `canary took ${performance.now() - start} ms`);
    });
});

describe("clients that stop reading (--write-timeout 2)", () => {
  let server;
  before(async () => { server = await startBatteryServer(["--write-timeout", "2"]); });
  after(async () => { await stopBatteryServer(server); });

  caseTest(() => server, "F4", "a stalled reader and a half-closed socket are dropped and their KV freed; other streams unaffected",
    async (server) => {
      const before = await metrics(server.url);
      const solo = await server.post("/v1/completions", { prompt: "A steady reader", max_tokens: 64, temperature: 0,
                                                          ignore_eos: true });
      // Megabytes of logprobs that the client never reads.
      // 64 completions with 20 alternatives per token: tens of MB, more than the kernel's
      // socket buffers and the server's 4 MiB per connection hold.
      const prompts = ["Flood the socket", "Flood it some more", "And then more", "And yet more"];
      const body = JSON.stringify({ prompt: prompts, n: 16, max_tokens: 480, logprobs: 20, temperature: 0.8,
                                    ignore_eos: true, stream: true });
      prompts.forEach((p) => server.remember(p));
      const stalled = net.connect(server.port, "127.0.0.1");
      stalled.on("error", () => {});
      stalled.on("connect", () => {
        stalled.write(`POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n` +
                      `Content-Length: ${body.length}\r\n\r\n${body}`);
        stalled.pause();
      });
      // Meanwhile a normal stream runs and gets exactly its solo text.
      const steady = await openStream(server, "/v1/completions",
                                      { prompt: "A steady reader", max_tokens: 64, temperature: 0, ignore_eos: true });
      const text = (await readSse(steady)).filter((e) => e !== "[DONE]").map((e) => e.choices[0]?.text ?? "").join("");
      assert.equal(text, solo.json.choices[0].text);
      await waitFor(() => /not reading its stream|made no progress/.test(server.log()), 30000 * slow,
                    "the stalled connection to be dropped");
      stalled.destroy();
      // Half-closed: the request, then FIN; the server takes it as the client leaving.
      const half = net.connect(server.port, "127.0.0.1");
      half.on("error", () => {});
      const long = JSON.stringify({ prompt: "Half closed socket", max_tokens: 480, ignore_eos: true, stream: true });
      server.remember("Half closed socket");
      half.on("connect", () => {
        half.end(`POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n` +
                 `Content-Length: ${long.length}\r\n\r\n${long}`);
      });
      await waitFor(async () => (await metrics(server.url)).tern_client_disconnects_total ===
                                before.tern_client_disconnects_total + 2, 5000 * slow, "both to count as disconnects");
      half.destroy();
    });
});
