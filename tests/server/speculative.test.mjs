// `tern serve --speculative-method ngram` and `draft` (models/tern-demo-draft): the same
// responses as without speculation (greedy and seeded, streamed and not, n > 1, logprobs,
// stop strings, max_tokens), on the built-in demo model, whose replies repeat the numbers
// of the question (prompt lookup drafts are often accepted); and the speculation counters
// on /metrics.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { metrics, postJson, readSse, startServer } from "./helpers.mjs";

let plain, ngram, draft;
before(async () => {
  [plain, ngram, draft] = await Promise.all([
    startServer([], { model: null }),
    startServer(["--speculative-method", "ngram", "--num-speculative-tokens", "5"], { model: null }),
    startServer(["--speculative-method", "draft", "--speculative-model", "models/tern-demo-draft"], { model: null }),
  ]);
});
after(async () => {
  for (const server of [plain, ngram, draft]) assert.equal((await server.stop()).code, 0);
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
  // Structured output: drafts the grammar refuses are dropped, and each row has its mask.
  const schema = { type: "object", properties: { answer: { type: "string" }, again: { type: "string" } },
                   required: ["answer", "again"] };
  for (const q of questions.slice(0, 3)) {
    out.push({ messages: [{ role: "user", content: q }], temperature: 0, max_tokens: 60,
               response_format: { type: "json_schema", json_schema: { name: "a", schema } } });
  }
  return out;
}

// What a response says, without ids and times.
function content(json) {
  return json.choices.map((c) => ({ message: c.message, finish_reason: c.finish_reason, logprobs: c.logprobs }));
}

for (const [method, server] of [["ngram", () => ngram], ["draft", () => draft]]) {
  test(`${method}: non-streamed chat completions equal those without speculation`, async () => {
    for (const body of bodies()) {
      const [a, b] = await Promise.all([postJson(plain.url, "/v1/chat/completions", body),
                                        postJson(server().url, "/v1/chat/completions", body)]);
      assert.equal(a.status, 200, a.text);
      assert.equal(b.status, 200, b.text);
      assert.deepEqual(content(b.json), content(a.json), JSON.stringify(body));
      // cached_tokens differ: the plain server saw each body once per method.
      assert.equal(b.json.usage.completion_tokens, a.json.usage.completion_tokens);
      assert.equal(b.json.usage.prompt_tokens, a.json.usage.prompt_tokens);
    }
  });

  test(`${method}: streamed text and logprobs equal the non-streamed ones`, async () => {
    const streamed = bodies().filter((b) => !b.n).map((b) => ({ ...b, logprobs: true, top_logprobs: 2 }));
    for (const body of streamed) {
      const whole = await postJson(server().url, "/v1/chat/completions", body);
      const r = await fetch(server().url + "/v1/chat/completions", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ ...body, stream: true }),
      });
      const events = (await readSse(r)).filter((e) => e !== "[DONE]");
      const text = events.map((e) => e.choices[0]?.delta?.content ?? "").join("");
      assert.equal(text, whole.json.choices[0].message.content, JSON.stringify(body));
      const logprobs = events.flatMap((e) => e.choices[0]?.logprobs?.content ?? []);
      assert.deepEqual(logprobs, whole.json.choices[0].logprobs.content, JSON.stringify(body));
    }
  });

  test(`${method}: the speculation counters on /metrics`, async () => {
    const m = await metrics(server().url);
    assert.ok(m.tern_spec_draft_tokens_total > 0, "drafts are made");
    assert.ok(m.tern_spec_accepted_tokens_total > 0);
    assert.ok(m.tern_spec_accepted_tokens_total <= m.tern_spec_draft_tokens_total);
    assert.equal(m.tern_spec_accepted_per_step_sum, m.tern_spec_accepted_tokens_total);
    assert.equal(m['tern_spec_accepted_per_step_bucket{le="+Inf"}'], m.tern_spec_accepted_per_step_count);
    assert.equal((await metrics(plain.url)).tern_spec_draft_tokens_total, 0);
    const steps = m.tern_spec_accepted_per_step_count;
    console.log(`demo model, ${method}: ${m.tern_spec_accepted_tokens_total} of ${m.tern_spec_draft_tokens_total} ` +
                `drafts accepted over ${steps} verifying steps ` +
                `(${((m.tern_spec_accepted_tokens_total + steps) / steps).toFixed(2)} tokens per step)`);
  });
}
