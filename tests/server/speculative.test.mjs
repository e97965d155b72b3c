// `tern serve --speculative-method ngram`: the same responses as without speculation
// (greedy and seeded, streamed and not, n > 1, logprobs, stop strings, max_tokens), on the
// built-in demo model, whose replies repeat the numbers of the question, so prompt lookup
// drafts are often accepted; and the speculation counters on /metrics.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { metrics, postJson, readSse, startServer } from "./helpers.mjs";

let plain, spec;
before(async () => {
  [plain, spec] = await Promise.all([
    startServer([], { model: null }),
    startServer(["--speculative-method", "ngram", "--num-speculative-tokens", "5"], { model: null }),
  ]);
});
after(async () => {
  assert.equal((await plain.stop()).code, 0);
  assert.equal((await spec.stop()).code, 0);
});

const questions = ["What is 123 + 456?", "What is 905 - 317?", "What is 12 * 34?", "Who are you?",
                   "What is 77 + 777?", "45加54等于多少？"];

function bodies() {
  const out = [];
  for (const [i, q] of questions.entries()) {
    const messages = [{ role: "user", content: q }];
    out.push({ messages, temperature: 0, max_tokens: 40 });
    out.push({ messages, temperature: 1.0, seed: 100 + i, max_tokens: 40, n: 2, logprobs: true, top_logprobs: 2 });
    out.push({ messages, temperature: 0, max_tokens: 5 + i });
    out.push({ messages, temperature: 0.8, seed: 7, stop: ["="], max_tokens: 40 });
  }
  return out;
}

// What a response says, without ids and times.
function content(json) {
  return json.choices.map((c) => ({ message: c.message, finish_reason: c.finish_reason, logprobs: c.logprobs }));
}

test("non-streamed chat completions equal those without speculation", async () => {
  for (const body of bodies()) {
    const [a, b] = await Promise.all([postJson(plain.url, "/v1/chat/completions", body),
                                      postJson(spec.url, "/v1/chat/completions", body)]);
    assert.equal(a.status, 200, a.text);
    assert.equal(b.status, 200, b.text);
    assert.deepEqual(content(b.json), content(a.json), JSON.stringify(body));
    assert.deepEqual(b.json.usage, a.json.usage);
  }
});

test("streamed text equals the non-streamed text with speculation", async () => {
  for (const body of bodies().filter((b) => !b.n)) {
    const whole = await postJson(spec.url, "/v1/chat/completions", body);
    const r = await fetch(spec.url + "/v1/chat/completions", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ ...body, stream: true }),
    });
    const events = (await readSse(r)).filter((e) => e !== "[DONE]");
    const text = events.map((e) => e.choices[0]?.delta?.content ?? "").join("");
    assert.equal(text, whole.json.choices[0].message.content, JSON.stringify(body));
  }
});

test("the speculation counters on /metrics", async () => {
  const m = await metrics(spec.url);
  assert.ok(m.tern_spec_draft_tokens_total > 0, "the demo's replies repeat their questions: drafts are made");
  assert.ok(m.tern_spec_accepted_tokens_total > 0);
  assert.ok(m.tern_spec_accepted_tokens_total <= m.tern_spec_draft_tokens_total);
  assert.equal(m.tern_spec_accepted_per_step_sum, m.tern_spec_accepted_tokens_total);
  assert.equal(m['tern_spec_accepted_per_step_bucket{le="+Inf"}'], m.tern_spec_accepted_per_step_count);
  const p = await metrics(plain.url);
  assert.equal(p.tern_spec_draft_tokens_total, 0);
  console.log(`demo model, ngram K=5: ${m.tern_spec_accepted_tokens_total} of ${m.tern_spec_draft_tokens_total} ` +
              `drafts accepted over ${m.tern_spec_accepted_per_step_count} verifying steps`);
});
