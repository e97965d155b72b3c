// The rest of the OpenAI / vLLM request surface: the model's sampling defaults from
// generation_config.json (and --generation-config ignore), include_stop_str_in_output,
// prompt_logprobs, add_special_tokens, and the output-changing fields tern refuses.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";

import { postJson, startServer, tinyModel } from "./helpers.mjs";

// tiny-qwen2 with a generation_config.json that asks for greedy sampling and top_k 5.
function modelWithDefaults() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tern-genconfig-"));
  for (const file of fs.readdirSync(tinyModel)) fs.copyFileSync(path.join(tinyModel, file), path.join(dir, file));
  const config = JSON.parse(fs.readFileSync(path.join(dir, "generation_config.json"), "utf8"));
  fs.writeFileSync(path.join(dir, "generation_config.json"),
                   JSON.stringify({ ...config, temperature: 0.0, top_k: 5, do_sample: true }));
  return dir;
}

describe("sampling defaults from generation_config.json", () => {
  let dir;
  before(() => { dir = modelWithDefaults(); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test("apply to requests that leave them out, show in /v1/models and the log, and can be ignored", async () => {
    const server = await startServer(["--model", dir]);
    try {
      const models = await (await fetch(server.url + "/v1/models")).json();
      assert.deepEqual(models.data[0].sampling_defaults, { temperature: 0, top_k: 5 });
      assert.match(server.log(), /sampling defaults from generation_config.json/);
      // temperature 0 by default: different seeds, the same (greedy) text
      const body = (seed) => ({ prompt: "Once upon a time", max_tokens: 8, seed });
      const a = await postJson(server.url, "/v1/completions", body(1));
      const b = await postJson(server.url, "/v1/completions", body(2));
      assert.equal(a.json.choices[0].text, b.json.choices[0].text);
      // a request's own value wins
      const hot = await Promise.all([3, 4, 5, 6].map((seed) =>
        postJson(server.url, "/v1/completions", { ...body(seed), temperature: 2.0, top_k: 0 })));
      assert.ok(new Set(hot.map((r) => r.json.choices[0].text)).size > 1);
    } finally {
      await server.stop();
    }
    const ignoring = await startServer(["--model", dir, "--generation-config", "ignore"]);
    try {
      const models = await (await fetch(ignoring.url + "/v1/models")).json();
      assert.deepEqual(models.data[0].sampling_defaults, {});
    } finally {
      await ignoring.stop();
    }
  });
});

describe("request fields", () => {
  let server;
  before(async () => { server = await startServer(); });
  after(async () => { await server.stop(); });

  test("include_stop_str_in_output keeps the stop string, and only it", async () => {
    const greedy = await postJson(server.url, "/v1/completions", { prompt: "Hello", max_tokens: 12, temperature: 0 });
    const text = greedy.json.choices[0].text;
    const stop = text.slice(3, 5);
    assert.equal(stop.length, 2);
    const cut = text.indexOf(stop);
    const kept = await postJson(server.url, "/v1/completions",
                                { prompt: "Hello", max_tokens: 12, temperature: 0, stop: [stop],
                                  include_stop_str_in_output: true });
    assert.equal(kept.json.choices[0].text, text.slice(0, cut + stop.length));
    assert.equal(kept.json.choices[0].finish_reason, "stop");
    const dropped = await postJson(server.url, "/v1/completions",
                                   { prompt: "Hello", max_tokens: 12, temperature: 0, stop: [stop] });
    assert.equal(dropped.json.choices[0].text, text.slice(0, cut));
  });

  test("prompt_logprobs: vLLM's per-position scores, the prompt token with its rank", async () => {
    const r = await postJson(server.url, "/v1/completions",
                             { prompt: "The cat sat", max_tokens: 1, prompt_logprobs: 2, temperature: 0 });
    assert.equal(r.status, 200, r.text);
    const tokens = (await postJson(server.url, "/tokenize", { prompt: "The cat sat" })).json.tokens;
    const scores = r.json.choices[0].prompt_logprobs;
    assert.equal(scores.length, tokens.length);
    assert.equal(scores[0], null);
    for (let i = 1; i < tokens.length; ++i) {
      const entry = scores[i][String(tokens[i])];
      assert.ok(entry.logprob <= 0 && entry.rank >= 1, JSON.stringify(scores[i]));
      assert.ok(Object.keys(scores[i]).length <= 3);
    }
  });

  test("add_special_tokens false leaves the tokenizer's own tokens out of a text prompt", async () => {
    const r = await postJson(server.url, "/v1/completions", { prompt: "Hi", max_tokens: 1, add_special_tokens: false });
    assert.equal(r.status, 200, r.text);
  });

  test("output-changing fields tern does not implement are a 400 naming them", async () => {
    const messages = [{ role: "user", content: "Hi" }];
    const cases = [
      ["/v1/completions", { prompt: "x", allowed_token_ids: [1, 2] }, "allowed_token_ids"],
      ["/v1/completions", { prompt: "x", bad_words: ["a"] }, "bad_words"],
      ["/v1/completions", { prompt: "x", truncate_prompt_tokens: 5 }, "truncate_prompt_tokens"],
      ["/v1/completions", { prompt: "x", length_penalty: 2 }, "length_penalty"],
      ["/v1/completions", { prompt: "x", max_tokens: 0 }, "max_tokens"],
      ["/v1/completions", { prompt: "x", max_tokens: 0, echo: true, logprobs: 1, n: 2 }, "n"],
      ["/v1/chat/completions", { messages, modalities: ["text", "audio"] }, "modalities"],
      ["/v1/chat/completions", { messages, reasoning_effort: "high" }, "reasoning_effort"],
      ["/v1/chat/completions", { messages, prediction: { type: "content", content: "x" } }, "prediction"],
      ["/v1/chat/completions", { messages, prompt_logprobs: 1 }, "prompt_logprobs"],
      ["/v1/chat/completions", { messages, tool_choice: "required" }, "tool_choice"],
    ];
    for (const [route, body, param] of cases) {
      const r = await postJson(server.url, route, body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
      assert.equal(r.json.error.param, param, r.text);
    }
    // Their defaults are fine.
    const ok = await postJson(server.url, "/v1/chat/completions",
                              { messages, modalities: ["text"], bad_words: [], length_penalty: 1, max_tokens: 2 });
    assert.equal(ok.status, 200, ok.text);
  });
});
