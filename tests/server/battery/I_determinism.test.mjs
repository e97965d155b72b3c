// Battery group I, determinism (docs/reliability.md): seeded sampling repeats exactly, across
// runs and restarts; greedy output does not depend on the batch (the CPU backend is
// batch-invariant: every row is computed alone, in one order); n > 1 with a seed gives
// distinct, reproducible choices.
import assert from "node:assert/strict";
import { after, before } from "node:test";

import { readSse } from "../helpers.mjs";
import { caseTest, startBatteryServer, stopBatteryServer } from "./harness.mjs";

let server;
before(async () => { server = await startBatteryServer(["--max-num-seqs", "64"]); });
after(async () => { await stopBatteryServer(server); });

async function streamText(server, body) {
  const response = await fetch(server.url + "/v1/completions", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ ...body, stream: true }) });
  assert.equal(response.status, 200);
  return (await readSse(response)).filter((e) => e !== "[DONE]").map((e) => e.choices[0]?.text ?? "").join("");
}

caseTest(() => server, "I1", "(a) a seed repeats 10 times and across a restart; (b) greedy alone = in a batch of 256 streams and 32 sampled others; (c) n = 4 with a seed; (d) 4 identical greedy requests",
  async (server) => {
    // (a)
    const seeded = { prompt: "Determinism probe: once upon a time", max_tokens: 24, temperature: 0.9, top_p: 0.95,
                     seed: 1234 };
    const first = (await server.post("/v1/completions", seeded)).json.choices[0].text;
    for (let i = 0; i < 9; ++i) assert.equal((await server.post("/v1/completions", seeded)).json.choices[0].text, first);
    const restarted = await startBatteryServer(["--max-num-seqs", "64"]);
    try {
      assert.equal((await restarted.post("/v1/completions", seeded)).json.choices[0].text, first, "after a restart");
    } finally {
      await stopBatteryServer(restarted);
    }

    // (b) 16 greedy prompts alone, then 256 concurrent streams of them among 32 sampled
    // requests with other prompts.
    const prompts = Array.from({ length: 16 }, (_, i) => `Batch probe ${i}: tell me about item ${i * 7}`);
    const greedy = (p) => ({ prompt: p, max_tokens: 16, temperature: 0, ignore_eos: true });
    const alone = [];
    for (const p of prompts) alone.push((await server.post("/v1/completions", greedy(p))).json.choices[0].text);
    const noise = Array.from({ length: 32 }, (_, i) => server.post("/v1/completions", {
      prompt: `Noise ${i} ${"word ".repeat(i * 3)}`, max_tokens: 20, temperature: 1, seed: i }));
    const texts = await Promise.all(Array.from({ length: 256 }, (_, i) => streamText(server, greedy(prompts[i % 16]))));
    texts.forEach((text, i) => assert.equal(text, alone[i % 16], `stream ${i}`));
    for (const r of await Promise.all(noise)) assert.equal(r.status, 200);

    // (c)
    const n4 = { prompt: "Four different endings", max_tokens: 12, temperature: 1, seed: 99, n: 4 };
    const a = (await server.post("/v1/completions", n4)).json.choices.map((c) => c.text);
    const b = (await server.post("/v1/completions", n4)).json.choices.map((c) => c.text);
    assert.deepEqual(a, b);
    assert.equal(new Set(a).size, 4, JSON.stringify(a));

    // (d)
    const same = await Promise.all(Array.from({ length: 4 }, () =>
      server.post("/v1/completions", greedy("Four at once, all the same"))));
    assert.equal(new Set(same.map((r) => r.json.choices[0].text)).size, 1);
  }, { timeout: 240000 });
