// Load and cancellation: 256 concurrent streaming clients get exactly what each prompt
// gets alone (greedy), the KV cache is empty afterwards, a client that disconnects
// mid-stream (or mid-request) has its request aborted and its KV blocks freed, and
// /metrics parses as Prometheus text with the documented names.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { metrics, postJson, readSse, startServer, waitFor } from "./helpers.mjs";

let server;
before(async () => { server = await startServer(["--max-num-seqs", "64"]); });
after(async () => { assert.equal((await server.stop()).code, 0); });

const idle = async () => {
  const m = await metrics(server.url);
  return m.tern_requests_running === 0 && m.tern_requests_waiting === 0 && m.tern_kv_cache_usage_ratio === 0;
};

async function streamText(body) {
  const response = await fetch(server.url + "/v1/completions", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ ...body, stream: true }),
  });
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type"), /^text\/event-stream/);
  const events = await readSse(response);
  assert.equal(events.at(-1), "[DONE]");
  return events.slice(0, -1).map((e) => e.choices[0]?.text ?? "").join("");
}

describe("256 concurrent streams", () => {
  test("each equals its prompt run alone, and the KV cache is empty afterwards", async () => {
    const prompts = Array.from({ length: 16 }, (_, i) => `Request ${i}: tell me about item ${i * 7}`);
    const params = (p) => ({ prompt: p, max_tokens: 16, temperature: 0, ignore_eos: true });
    const alone = [];
    for (const p of prompts) {
      const r = await postJson(server.url, "/v1/completions", params(p));
      assert.equal(r.status, 200);
      alone.push(r.json.choices[0].text);
    }
    const texts = await Promise.all(Array.from({ length: 256 }, (_, i) => streamText(params(prompts[i % 16]))));
    texts.forEach((text, i) => assert.equal(text, alone[i % 16], `client ${i}`));
    await waitFor(idle, 2000, "running, waiting and KV usage back to 0");
  });
});

describe("disconnects", () => {
  test("a client leaving mid-stream aborts its request and frees its KV blocks", async () => {
    const before = await metrics(server.url);
    const controller = new AbortController();
    const response = await fetch(server.url + "/v1/completions", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ prompt: "a long story", max_tokens: 480, ignore_eos: true, stream: true }),
      signal: controller.signal,
    });
    const reader = response.body.getReader();
    let received = "";
    while ((received.match(/data: /g) || []).length < 5) received += new TextDecoder().decode((await reader.read()).value);
    const during = await metrics(server.url);
    assert.ok(during.tern_kv_cache_usage_ratio > 0);
    controller.abort();
    await waitFor(idle, 1000, "the aborted request's KV blocks to be freed");
    const after = await metrics(server.url);
    assert.equal(after.tern_client_disconnects_total, before.tern_client_disconnects_total + 1);
    assert.equal(after['tern_requests_total{finish_reason="abort"}'],
                 before['tern_requests_total{finish_reason="abort"}'] + 1);
    assert.ok(after.tern_generation_tokens_total - before.tern_generation_tokens_total < 480);
  });

  test("a client leaving a non-streaming request aborts it too", async () => {
    const before = await metrics(server.url);
    const controller = new AbortController();
    const pending = fetch(server.url + "/v1/completions", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ prompt: "another long story", max_tokens: 480, ignore_eos: true }),
      signal: controller.signal,
    }).catch((e) => e);
    await waitFor(async () => (await metrics(server.url)).tern_requests_running > 0, 2000, "the request to run");
    controller.abort();
    assert.equal((await pending).name, "AbortError");
    await waitFor(idle, 1000, "the aborted request's KV blocks to be freed");
    const after = await metrics(server.url);
    assert.equal(after.tern_client_disconnects_total, before.tern_client_disconnects_total + 1);
  });
});

describe("/metrics", () => {
  test("has every documented metric, with consistent histograms", async () => {
    const text = await (await fetch(server.url + "/metrics")).text();
    const m = await metrics(server.url);
    for (const h of ["tern_time_to_first_token_seconds", "tern_inter_token_latency_seconds",
                     "tern_e2e_request_latency_seconds", "tern_request_queue_time_seconds"]) {
      assert.match(text, new RegExp(`# TYPE ${h} histogram`));
      const buckets = Object.entries(m).filter(([k]) => k.startsWith(h + "_bucket"));
      const counts = buckets.map(([, v]) => v);
      assert.deepEqual(counts, [...counts].sort((a, b) => a - b), `${h} buckets are cumulative`);
      assert.equal(m[`${h}_bucket{le="+Inf"}`], m[`${h}_count`]);
      assert.ok(m[`${h}_count`] > 0, `${h} observed requests`);
      assert.ok(m[`${h}_sum`] >= 0);
    }
    for (const g of ["tern_requests_running", "tern_requests_waiting", "tern_kv_cache_usage_ratio"]) {
      assert.match(text, new RegExp(`# TYPE ${g} gauge`));
      assert.ok(g in m);
    }
    for (const c of ["tern_prompt_tokens_total", "tern_generation_tokens_total", "tern_prefix_cache_queries_total",
                     "tern_prefix_cache_hits_total", "tern_preemptions_total"]) {
      assert.match(text, new RegExp(`# TYPE ${c} counter`));
      assert.ok(m[c] >= 0);
    }
    assert.ok(m.tern_prompt_tokens_total > 0);
    assert.ok(m.tern_generation_tokens_total >= 256 * 16);
    assert.ok(m.tern_prefix_cache_hits_total > 0, "repeated prompts hit the prefix cache");
    for (const reason of ["stop", "length", "abort", "error"]) {
      assert.ok(`tern_requests_total{finish_reason="${reason}"}` in m);
    }
    assert.ok(m['tern_requests_total{finish_reason="length"}'] >= 256);
  });
});
