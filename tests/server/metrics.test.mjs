// /metrics: Prometheus text with every documented name, consistent histograms, and
// counters that follow the requests served (the battery, tests/server/battery, relies on
// the gauges).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { metrics, postJson, startServer } from "./helpers.mjs";

let server;
before(async () => { server = await startServer(); });
after(async () => { assert.equal((await server.stop()).code, 0); });

test("every documented metric, with consistent histograms and counters", async () => {
  const body = { prompt: "Metrics probe: a prompt long enough to fill a block or two of the cache", max_tokens: 16,
                 temperature: 0, ignore_eos: true };
  for (let i = 0; i < 4; ++i) assert.equal((await postJson(server.url, "/v1/completions", body)).status, 200);
  const text = await (await fetch(server.url + "/metrics")).text();
  const m = await metrics(server.url);
  for (const h of ["tern_time_to_first_token_seconds", "tern_inter_token_latency_seconds",
                   "tern_e2e_request_latency_seconds", "tern_request_queue_time_seconds"]) {
    assert.match(text, new RegExp(`# TYPE ${h} histogram`));
    const counts = Object.entries(m).filter(([k]) => k.startsWith(h + "_bucket")).map(([, v]) => v);
    assert.deepEqual(counts, [...counts].sort((a, b) => a - b), `${h} buckets are cumulative`);
    assert.equal(m[`${h}_bucket{le="+Inf"}`], m[`${h}_count`]);
    assert.ok(m[`${h}_count`] >= 4, `${h} observed the requests`);
    assert.ok(m[`${h}_sum`] >= 0);
  }
  for (const g of ["tern_requests_running", "tern_requests_waiting", "tern_kv_cache_usage_ratio",
                   "tern_kv_cache_blocks_total", "tern_kv_cache_blocks_free", "tern_model_loaded", "tern_engine_healthy",
                   "tern_device_memory_used_bytes", "tern_device_memory_total_bytes"]) {
    assert.match(text, new RegExp(`# TYPE ${g} gauge`));
  }
  assert.equal(m.tern_kv_cache_blocks_free, m.tern_kv_cache_blocks_total, "nothing held when idle");
  for (const c of ["tern_prompt_tokens_total", "tern_generation_tokens_total", "tern_prefix_cache_queries_total",
                   "tern_prefix_cache_hits_total", "tern_preemptions_total", "tern_prefill_chunks_cut_total",
                   "tern_client_disconnects_total",
                   "tern_numerical_errors_total", "tern_spec_draft_tokens_total",
                   "tern_spec_accepted_tokens_total"]) {
    assert.match(text, new RegExp(`# TYPE ${c} counter`));
    assert.ok(m[c] >= 0);
  }
  assert.ok(m.tern_generation_tokens_total >= 4 * 16);
  assert.equal(m.tern_inter_token_latency_seconds_count, 4 * 15, "one inter-token gap per token after the first");
  assert.ok(m.tern_prefix_cache_hits_total > 0, "repeated prompts hit the prefix cache");
  assert.equal(m['tern_requests_total{finish_reason="length"}'], 4 + 0);
  for (const reason of ["stop", "length", "abort", "error"]) assert.ok(`tern_requests_total{finish_reason="${reason}"}` in m);
  for (const reason of ["invalid", "context_length", "kv_capacity", "busy", "unavailable"]) {
    assert.ok(`tern_requests_rejected_total{reason="${reason}"}` in m);
  }
});
