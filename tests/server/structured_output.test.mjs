// Structured output on the demo model at temperature 1.0: every output of every schema,
// regex, choice and grammar validates (ajv for JSON schemas), because the grammar, not
// luck, decides; streamed equals non-streamed; forced tool calls through the official
// openai client parse and match their parameters; the lm-eval scoring request works.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import OpenAI from "openai";

import { postJson, repoRoot, startServer } from "./helpers.mjs";

const demo = path.join(repoRoot, "models/tern-demo");
// Debian's node-ajv (6.x, JSON Schema draft-07 with its formats): ES imports do not look in
// /usr/share/nodejs, require() does.
const Ajv = createRequire(import.meta.url)("ajv");
const ajv = new Ajv({ format: "full" });

let server;
let client;

before(async () => {
  server = await startServer([], { model: demo, chatTemplate: null });
  client = new OpenAI({ baseURL: server.url + "/v1", apiKey: "unused", maxRetries: 0 });
});
after(async () => {
  const { code } = await server.stop();
  assert.equal(code, 0);
});

const messages = [{ role: "user", content: "Reply with JSON." }];

// Every schema bounds its strings, arrays and numbers, so a complete output is always
// within reach of the grammar; the model (which knows arithmetic, not JSON) decides only
// what is inside.
const schemas = {
  object: {
    type: "object",
    properties: { name: { type: "string", maxLength: 12 }, age: { type: "integer", minimum: 0, maximum: 120 },
                  nick: { type: "string", maxLength: 5 }, admin: { type: "boolean" } },
    required: ["name", "age"],
  },
  array: { type: "array", items: { type: "integer", minimum: -10, maximum: 10 }, minItems: 2, maxItems: 4 },
  numbers: { type: "object", properties: { a: { type: "number", minimum: -1, maximum: 1 }, b: { type: "null" } },
             required: ["a", "b"] },
  strings: {
    type: "object",
    properties: {
      color: { enum: ["red", "grün", "青", "a\"b\\c", "tab\there"] },
      code: { type: "string", pattern: "^[A-Z]{2}-[0-9]{3}\"?$" },
      short: { type: "string", minLength: 2, maxLength: 4 },
      fixed: { const: { k: [1, "ü"] } },
    },
    required: ["color", "code", "short", "fixed"],
  },
  formats: {
    type: "object",
    properties: { day: { type: "string", format: "date" }, at: { type: "string", format: "date-time" },
                  id: { type: "string", format: "uuid" }, mail: { type: "string", format: "email" },
                  ip: { type: "string", format: "ipv4" } },
    required: ["day", "at", "id", "mail", "ip"],
  },
  choices: {
    anyOf: [{ type: "null" }, { type: "integer", exclusiveMinimum: 0, exclusiveMaximum: 100 },
            { oneOf: [{ type: "boolean" }, { type: "string", maxLength: 3 }] }],
  },
  definitions: {
    $defs: { point: { type: "object", properties: { x: { type: "integer", minimum: 0, maximum: 9 },
                                                     y: { type: "integer", minimum: 0, maximum: 9 } },
                      required: ["x", "y"] } },
    type: "array", items: { $ref: "#/$defs/point" }, maxItems: 3,
  },
};

function jsonSchemaFormat(schema) {
  return { type: "json_schema", json_schema: { name: "out", schema, strict: true } };
}

describe("JSON schemas", () => {
  for (const [name, schema] of Object.entries(schemas)) {
    test(`${name}: every output at temperature 1.0 validates, chat and completions, n = 4`, async () => {
      const validate = ajv.compile(schema);
      const outputs = [];
      for (const seed of [1]) {
        const chat = await postJson(server.url, "/v1/chat/completions", {
          messages, temperature: 1.0, seed, n: 4, max_tokens: 400, response_format: jsonSchemaFormat(schema) });
        assert.equal(chat.status, 200, chat.text);
        for (const c of chat.json.choices) outputs.push([c.finish_reason, c.message.content]);
        const completion = await postJson(server.url, "/v1/completions", {
          prompt: "JSON:", temperature: 1.0, seed, n: 4, max_tokens: 400, guided_json: schema });
        assert.equal(completion.status, 200, completion.text);
        for (const c of completion.json.choices) outputs.push([c.finish_reason, c.text]);
      }
      for (const [finish, text] of outputs) {
        assert.equal(finish, "stop", text);
        const value = JSON.parse(text);
        assert.ok(validate(value), `${text}\n${JSON.stringify(validate.errors)}`);
      }
    });
  }

  // Schemas whose outputs have no length bound (more properties, deeper trees) end where
  // the model stops or max_tokens cuts them: every complete one validates.
  test("additional properties: every complete output validates", async () => {
    const schema = { type: "object", properties: { id: { type: "integer", minimum: -5, maximum: 5 } },
                     additionalProperties: { type: "boolean" }, required: ["id"] };
    const validate = ajv.compile(schema);
    const r = await postJson(server.url, "/v1/completions", {
      prompt: "JSON:", temperature: 1.0, seed: 1, n: 8, max_tokens: 200, response_format: jsonSchemaFormat(schema) });
    assert.equal(r.status, 200, r.text);
    let complete = 0;
    for (const c of r.json.choices) {
      if (c.finish_reason !== "stop") continue;
      ++complete;
      assert.ok(validate(JSON.parse(c.text)), c.text);
    }
    assert.ok(complete > 0);
  });

  test("a recursive schema: every complete output validates", async () => {
    const tree = { type: "object", properties: { v: { type: "integer", minimum: 0, maximum: 9 },
                                                 kids: { type: "array", items: { $ref: "#" }, maxItems: 2 } },
                   required: ["v"] };
    const validate = ajv.compile(tree);
    let complete = 0;
    for (const seed of [1, 2]) {
      const r = await postJson(server.url, "/v1/completions", {
        prompt: "Tree:", temperature: 1.0, seed, n: 4, max_tokens: 300, structured_outputs: { json: tree } });
      assert.equal(r.status, 200, r.text);
      for (const c of r.json.choices) {
        if (c.finish_reason !== "stop") continue;  // max_tokens may cut a deep tree
        ++complete;
        assert.ok(validate(JSON.parse(c.text)), c.text);
      }
    }
    assert.ok(complete > 0);
  });

  test("json_object gives one JSON object", async () => {
    const r = await postJson(server.url, "/v1/chat/completions", {
      messages, temperature: 1.0, seed: 4, n: 4, max_tokens: 200, response_format: { type: "json_object" } });
    assert.equal(r.status, 200, r.text);
    for (const c of r.json.choices) {
      if (c.finish_reason === "stop") assert.equal(typeof JSON.parse(c.message.content), "object");
      else assert.ok(c.message.content.startsWith("{"));
    }
  });

  test("streamed equals non-streamed, on both endpoints", async () => {
    const body = { temperature: 1.0, seed: 11, n: 2, max_tokens: 200, response_format: jsonSchemaFormat(schemas.object) };
    const full = await client.chat.completions.create({ model: "tern-demo", messages, ...body });
    const stream = await client.chat.completions.create({ model: "tern-demo", messages, ...body, stream: true });
    const texts = ["", ""];
    for await (const chunk of stream) for (const c of chunk.choices) texts[c.index] += c.delta?.content ?? "";
    assert.deepEqual(texts, full.choices.map((c) => c.message.content));
    const completion = await client.completions.create({ model: "tern-demo", prompt: "JSON:", ...body });
    const streamed = await client.completions.create({ model: "tern-demo", prompt: "JSON:", ...body, stream: true });
    const pieces = ["", ""];
    for await (const chunk of streamed) for (const c of chunk.choices) pieces[c.index] += c.text;
    assert.deepEqual(pieces, completion.choices.map((c) => c.text));
  });
});

describe("regex, choice and grammar", () => {
  test("regex outputs match the whole pattern", async () => {
    const pattern = "(ab|cd){1,4}-[0-9]{2,4}(\\.[a-z]{1,3})?";
    for (const body of [{ guided_regex: pattern }, { structured_outputs: { regex: pattern } }]) {
      const r = await postJson(server.url, "/v1/completions",
                               { prompt: "Code:", temperature: 1.0, seed: 3, n: 4, max_tokens: 100, ...body });
      assert.equal(r.status, 200, r.text);
      for (const c of r.json.choices) {
        assert.equal(c.finish_reason, "stop");
        assert.match(c.text, new RegExp(`^(?:${pattern})$`));
      }
    }
  });

  test("choice outputs are one of the strings", async () => {
    const choices = ["yes", "no", "vielleicht", "多分"];
    const r = await postJson(server.url, "/v1/chat/completions",
                             { messages, temperature: 1.0, seed: 5, n: 8, guided_choice: choices });
    assert.equal(r.status, 200, r.text);
    for (const c of r.json.choices) assert.ok(choices.includes(c.message.content), c.message.content);
  });

  test("a recursive GBNF grammar", async () => {
    const grammar = 'root ::= expr\nexpr ::= num | "(" expr op expr ")"\nop ::= "+" | "*"\nnum ::= [1-9]';
    const r = await postJson(server.url, "/v1/completions",
                             { prompt: "Expression:", temperature: 1.0, seed: 6, n: 4, max_tokens: 200,
                               structured_outputs: { grammar } });
    assert.equal(r.status, 200, r.text);
    let complete = 0;
    for (const c of r.json.choices) {
      if (c.finish_reason !== "stop") continue;
      ++complete;
      let text = c.text;  // reduce innermost "(a op b)" until one digit is left
      for (let previous = ""; previous !== text;) [previous, text] = [text, text.replace(/\([1-9][+*][1-9]\)/g, "1")];
      assert.match(text, /^[1-9]$/, c.text);
    }
    assert.ok(complete > 0);
  });
});

describe("errors", () => {
  test("what cannot be compiled is a 400 naming the field and the problem, before anything runs", async () => {
    const cases = [
      [{ response_format: jsonSchemaFormat({ type: "number", multipleOf: 2 }) }, "response_format.json_schema.schema",
       /multipleOf/],
      [{ guided_regex: "a(?=b)" }, "guided_regex", /lookaround/],
      [{ structured_outputs: { grammar: "root ::= (" } }, "structured_outputs.grammar", /line 1/],
      [{ guided_choice: [] }, "guided_choice", /non-empty/],
      [{ guided_regex: "a", guided_choice: ["b"] }, "guided_choice", /one output format/],
    ];
    for (const [fields, param, message] of cases) {
      const r = await postJson(server.url, "/v1/chat/completions", { messages, ...fields });
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json.error.param, param);
      assert.match(r.json.error.message, message);
    }
  });
});

describe("forced tool calls (openai client)", () => {
  const weather = {
    type: "function",
    function: { name: "get_weather", description: "Weather in a city",
                parameters: { type: "object", properties: { city: { type: "string", maxLength: 16 },
                                                            days: { type: "integer", minimum: 1, maximum: 7 },
                                                            unit: { enum: ["C", "F"] } },
                              required: ["city", "days"] } },
  };
  const time = { type: "function", function: { name: "get_time",
    parameters: { type: "object", properties: { zone: { type: "string", maxLength: 8 } }, required: ["zone"] } } };
  const validators = { get_weather: ajv.compile(weather.function.parameters), get_time: ajv.compile(time.function.parameters) };

  for (const toolChoice of ["required", { type: "function", function: { name: "get_time" } }]) {
    const label = typeof toolChoice === "string" ? toolChoice : "named";
    test(`${label}: calls parse and match their schemas; streamed equals non-streamed`, async () => {
      const params = { model: "tern-demo", messages: [{ role: "user", content: "Weather in Paris?" }],
                       tools: [weather, time], tool_choice: toolChoice, temperature: 1.0, seed: 21, max_tokens: 300,
                       parallel_tool_calls: false };
      const full = await client.chat.completions.create(params);
      const choice = full.choices[0];
      assert.equal(choice.finish_reason, "tool_calls");
      assert.equal(choice.message.tool_calls.length, 1);
      const call = choice.message.tool_calls[0];
      if (label === "named") assert.equal(call.function.name, "get_time");
      assert.ok(validators[call.function.name](JSON.parse(call.function.arguments)), call.function.arguments);

      const stream = await client.chat.completions.create({ ...params, stream: true });
      const calls = [];
      let finish = null, names = 0, pieces = 0;
      for await (const chunk of stream) {
        for (const c of chunk.choices) {
          if (c.finish_reason) finish = c.finish_reason;
          for (const d of c.delta?.tool_calls ?? []) {
            if (d.function?.name) {
              ++names;
              calls[d.index] = { id: d.id, name: d.function.name, arguments: d.function.arguments ?? "" };
            } else {
              ++pieces;
              calls[d.index].arguments += d.function.arguments;
            }
          }
        }
      }
      assert.equal(finish, "tool_calls");
      assert.equal(names, 1);
      assert.ok(pieces > 1, "the arguments arrive in pieces");
      assert.deepEqual(calls.map((c) => [c.name, c.arguments]), [[call.function.name, call.function.arguments]]);
    });
  }

  test("parallel calls: one or more, each valid", async () => {
    const r = await client.chat.completions.create({
      model: "tern-demo", messages: [{ role: "user", content: "Weather and time?" }], tools: [weather, time],
      tool_choice: "required", temperature: 1.0, seed: 5, n: 4, max_tokens: 400 });
    for (const c of r.choices) {
      if (c.finish_reason !== "tool_calls") continue;
      assert.ok(c.message.tool_calls.length >= 1);
      for (const call of c.message.tool_calls)
        assert.ok(validators[call.function.name](JSON.parse(call.function.arguments)), call.function.arguments);
    }
  });
});

describe("scoring (lm-eval-harness's loglikelihood request)", () => {
  test("echo with logprobs and max_tokens 0 scores the prompt as generation would", async () => {
    const prompt = "What is 12 + 7?";
    const tokens = (await postJson(server.url, "/tokenize", { prompt })).json.tokens;
    const next = await postJson(server.url, "/v1/completions",
                                { prompt: tokens, max_tokens: 1, temperature: 0, logprobs: 1 });
    assert.equal(next.status, 200, next.text);
    const generated = next.json.choices[0].logprobs.token_logprobs[0];
    const nextId = (await postJson(server.url, "/tokenize", { prompt: next.json.choices[0].text,
                                                               add_special_tokens: false })).json.tokens;
    const scored = await postJson(server.url, "/v1/completions",
                                  { prompt: [...tokens, ...nextId], max_tokens: 0, echo: true, logprobs: 1,
                                    temperature: 0 });
    assert.equal(scored.status, 200, scored.text);
    const choice = scored.json.choices[0];
    assert.equal(choice.text, prompt + next.json.choices[0].text);
    assert.equal(choice.finish_reason, "length");
    const lp = choice.logprobs;
    assert.equal(lp.tokens.length, tokens.length + nextId.length);
    assert.equal(lp.token_logprobs[0], null);
    assert.equal(lp.top_logprobs[0], null);
    for (const v of lp.token_logprobs.slice(1)) assert.ok(v <= 0);
    if (nextId.length === 1) assert.ok(Math.abs(lp.token_logprobs.at(-1) - generated) < 1e-3);
    assert.equal(scored.json.usage.completion_tokens, 0);
  });
});
