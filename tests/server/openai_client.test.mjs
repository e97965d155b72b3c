// The official openai client against tern: completions and chat, streaming and not,
// token-array prompts, several prompts, n > 1, logprobs, stop strings, usage.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import OpenAI from "openai";

import { postJson, qwenTemplate, startServer } from "./helpers.mjs";

let server;
let client;

before(async () => {
  server = await startServer();
  client = new OpenAI({ baseURL: server.url + "/v1", apiKey: "unused", maxRetries: 0 });
});
after(async () => {
  const { code } = await server.stop();
  assert.equal(code, 0);
});

async function collectText(stream) {
  const texts = {};
  const finish = {};
  let usage = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      const piece = c.text ?? c.delta?.content ?? "";
      texts[c.index] = (texts[c.index] ?? "") + piece;
      if (c.finish_reason) finish[c.index] = c.finish_reason;
    }
  }
  return { texts, finish, usage };
}

describe("models", () => {
  test("lists the served model", async () => {
    const models = await client.models.list();
    assert.deepEqual(models.data.map((m) => m.id), ["tiny-qwen2"]);
    const model = await client.models.retrieve("tiny-qwen2");
    assert.equal(model.id, "tiny-qwen2");
  });
});

describe("completions", () => {
  test("non-streaming text equals the concatenated stream (greedy)", async () => {
    const params = { model: "tiny-qwen2", prompt: "The capital of France is", max_tokens: 12, temperature: 0 };
    const full = await client.completions.create(params);
    assert.equal(full.object, "text_completion");
    assert.equal(full.choices.length, 1);
    assert.equal(full.choices[0].finish_reason, "length");
    assert.equal(full.usage.completion_tokens, 12);
    const stream = await client.completions.create({ ...params, stream: true,
                                                     stream_options: { include_usage: true } });
    const streamed = await collectText(stream);
    assert.equal(streamed.texts[0], full.choices[0].text);
    assert.equal(streamed.finish[0], "length");
    assert.equal(streamed.usage.prompt_tokens, full.usage.prompt_tokens);
    assert.equal(streamed.usage.completion_tokens, full.usage.completion_tokens);
  });

  test("a token-id prompt gives the same text as the string it encodes", async () => {
    const tokenized = await postJson(server.url, "/tokenize", { prompt: "Hello there" });
    assert.equal(tokenized.status, 200);
    const byText = await client.completions.create({ prompt: "Hello there", max_tokens: 8, temperature: 0,
                                                     model: "tiny-qwen2" });
    const byIds = await client.completions.create({ prompt: tokenized.json.tokens, max_tokens: 8, temperature: 0,
                                                    model: "tiny-qwen2" });
    assert.equal(byIds.choices[0].text, byText.choices[0].text);
    assert.equal(byIds.usage.prompt_tokens, tokenized.json.count);
  });

  test("a list of prompts and n > 1 give prompts x n choices, indexed prompt-major", async () => {
    const single = await Promise.all(["one", "two"].map((p) =>
      client.completions.create({ model: "tiny-qwen2", prompt: p, max_tokens: 6, temperature: 0 })));
    const batch = await client.completions.create({ model: "tiny-qwen2", prompt: ["one", "two"], n: 2,
                                                    max_tokens: 6, temperature: 0 });
    assert.deepEqual(batch.choices.map((c) => c.index), [0, 1, 2, 3]);
    assert.equal(batch.choices[0].text, single[0].choices[0].text);
    assert.equal(batch.choices[1].text, single[0].choices[0].text);
    assert.equal(batch.choices[2].text, single[1].choices[0].text);
    assert.equal(batch.choices[3].text, single[1].choices[0].text);
    assert.equal(batch.usage.completion_tokens, 24);
  });

  test("logprobs: one entry per token with the requested alternatives", async () => {
    const r = await client.completions.create({ model: "tiny-qwen2", prompt: "abc", max_tokens: 5, temperature: 0,
                                                logprobs: 3 });
    const lp = r.choices[0].logprobs;
    assert.equal(lp.tokens.length, 5);
    assert.equal(lp.token_logprobs.length, 5);
    assert.equal(lp.text_offset.length, 5);
    assert.equal(lp.text_offset[0], 0);
    for (let i = 0; i < 5; ++i) {
      assert.ok(lp.token_logprobs[i] <= 0);
      assert.ok(Object.keys(lp.top_logprobs[i]).length >= 1);
      // Greedy: the chosen token is the most likely one.
      assert.ok(lp.token_logprobs[i] >= Math.max(...Object.values(lp.top_logprobs[i])) - 1e-5);
    }
    assert.equal(lp.tokens.join(""), r.choices[0].text);
  });

  test("a stop string ends the text before the match", async () => {
    const free = await client.completions.create({ model: "tiny-qwen2", prompt: "The capital of France is",
                                                   max_tokens: 12, temperature: 0 });
    const text = free.choices[0].text;
    const stop = text.slice(4, 7);
    assert.ok(stop.length > 0);
    const stopped = await client.completions.create({ model: "tiny-qwen2", prompt: "The capital of France is",
                                                      max_tokens: 12, temperature: 0, stop: [stop] });
    assert.equal(stopped.choices[0].finish_reason, "stop");
    assert.equal(stopped.choices[0].text, text.slice(0, text.indexOf(stop)));
  });
});

describe("chat completions", () => {
  const messages = [
    { role: "system", content: "You are terse." },
    { role: "user", content: "Say hi." },
    { role: "assistant", content: "Hi." },
    { role: "user", content: "Again." },
  ];

  test("non-streaming text equals the stream; the role comes first, finish_reason last", async () => {
    const full = await client.chat.completions.create({ model: "tiny-qwen2", messages, max_tokens: 10,
                                                        temperature: 0 });
    assert.equal(full.object, "chat.completion");
    assert.equal(full.choices[0].message.role, "assistant");
    assert.equal(full.choices[0].finish_reason, "length");
    const stream = await client.chat.completions.create({ model: "tiny-qwen2", messages, max_tokens: 10,
                                                          temperature: 0, stream: true,
                                                          stream_options: { include_usage: true } });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    assert.equal(chunks[0].choices[0].delta.role, "assistant");
    const withChoices = chunks.filter((c) => c.choices.length > 0);
    assert.equal(withChoices.at(-1).choices[0].finish_reason, "length");
    assert.ok(withChoices.slice(0, -1).every((c) => c.choices[0].finish_reason === null));
    const usage = chunks.at(-1);
    assert.deepEqual(usage.choices, []);
    // The second run finds the prompt in the prefix cache; the counts are the same.
    assert.equal(usage.usage.prompt_tokens, full.usage.prompt_tokens);
    assert.equal(usage.usage.completion_tokens, full.usage.completion_tokens);
    assert.ok(usage.usage.prompt_tokens_details.cached_tokens > 0);
    const text = chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("");
    assert.equal(text, full.choices[0].message.content);
  });

  test("n > 1 streams every choice and ends each", async () => {
    const stream = await client.chat.completions.create({ model: "tiny-qwen2", messages, max_tokens: 6,
                                                          temperature: 0.9, seed: 3, n: 3, stream: true });
    const { texts, finish } = await collectText(stream);
    assert.deepEqual(Object.keys(texts).sort(), ["0", "1", "2"]);
    assert.deepEqual(Object.values(finish), ["length", "length", "length"]);
  });

  test("logprobs and top_logprobs", async () => {
    const r = await client.chat.completions.create({ model: "tiny-qwen2", messages, max_tokens: 4, temperature: 0,
                                                     logprobs: true, top_logprobs: 2 });
    const content = r.choices[0].logprobs.content;
    assert.equal(content.length, 4);
    for (const entry of content) {
      assert.equal(typeof entry.token, "string");
      assert.ok(Array.isArray(entry.bytes));
      assert.equal(entry.top_logprobs.length, 2);
    }
  });

  test("a template without tool support fails a tool turn with a 400", async () => {
    const r = await postJson(server.url, "/v1/chat/completions", {
      messages: [{ role: "assistant", content: null,
                   tool_calls: [{ type: "function", function: { name: "f", arguments: "{}" } }] }],
    });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.param, "messages");
  });

  test("tool_choice required forces one call through the grammar, even where the template ignores tools", async () => {
    const tools = [{ type: "function", function: { name: "get_weather", parameters: {
      type: "object", properties: { city: { type: "string", maxLength: 5 } }, required: ["city"] } } }];
    const r = await client.chat.completions.create({ model: "tiny-qwen2", messages, tools, tool_choice: "required",
                                                     parallel_tool_calls: false, seed: 1, max_tokens: 100 });
    assert.equal(r.choices[0].finish_reason, "tool_calls");
    const call = r.choices[0].message.tool_calls[0];
    assert.equal(call.function.name, "get_weather");
    assert.equal(typeof JSON.parse(call.function.arguments).city, "string");
  });
});

describe("tools with Qwen2.5's template", () => {
  let qwen;
  before(async () => { qwen = await startServer(["--chat-template", qwenTemplate]); });
  after(async () => { await qwen.stop(); });

  test("tools and a tool turn render into the prompt", async () => {
    const tools = [{ type: "function", function: { name: "get_weather", description: "Weather of a city",
                                                   parameters: { type: "object",
                                                                 properties: { city: { type: "string" } } } } }];
    const messages = [{ role: "user", content: "Weather in Paris?" },
                      { role: "assistant", content: null,
                        tool_calls: [{ id: "call_1", type: "function",
                                       function: { name: "get_weather", arguments: "{\"city\": \"Paris\"}" } }] },
                      { role: "tool", tool_call_id: "call_1", content: "sunny" }];
    const withTools = await postJson(qwen.url, "/tokenize", { messages, tools, return_token_strs: true });
    assert.equal(withTools.status, 200, withTools.text);
    const withoutTools = await postJson(qwen.url, "/tokenize", { messages, tools, tool_choice: "none" });
    assert.ok(withTools.json.count > withoutTools.json.count);
    const rendered = withTools.json.token_strs.join("");
    assert.ok(rendered.includes("get_weather"));
    const r = await postJson(qwen.url, "/v1/chat/completions", { messages, tools, max_tokens: 4, temperature: 0 });
    assert.equal(r.status, 200, r.text);
  });

  test("malformed tool definitions and arguments are 400s naming the field", async () => {
    const bad = await postJson(qwen.url, "/v1/chat/completions", {
      messages: [{ role: "user", content: "x" }], tools: [{ type: "function", function: { name: "bad name" } }] });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.param, "tools[0].function.name");
    const args = await postJson(qwen.url, "/v1/chat/completions", {
      messages: [{ role: "assistant", tool_calls: [{ type: "function", function: { name: "f", arguments: "{" } }] }] });
    assert.equal(args.status, 400);
    assert.equal(args.json.error.param, "messages[0].tool_calls[0].function.arguments");
  });
});

describe("tokenize and detokenize", () => {
  test("round trip", async () => {
    const t = await postJson(server.url, "/tokenize", { prompt: "héllo wörld 👋", return_token_strs: true });
    assert.equal(t.status, 200);
    assert.equal(t.json.count, t.json.tokens.length);
    assert.equal(t.json.token_strs.length, t.json.count);
    assert.equal(t.json.max_model_len, 512);
    const d = await postJson(server.url, "/detokenize", { tokens: t.json.tokens });
    assert.equal(d.status, 200);
    assert.equal(d.json.prompt, "héllo wörld 👋");
  });
});
