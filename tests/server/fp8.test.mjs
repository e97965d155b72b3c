// `tern serve` with FP8: the demo model quantised as it loads (--quantization fp8) and an FP8
// KV cache (--kv-cache-dtype fp8), alone and together, answer the demo's arithmetic through
// the OpenAI API as the default server does (docs/quantization.md and docs/engine.md measure
// both as accurate as bf16 on the held-out questions); a quantized checkpoint refuses
// --quantization fp8 at start-up with the reason.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { after, before, test } from "node:test";

import { binary, postJson, repoRoot, startServer } from "./helpers.mjs";

const variants = {
  "--quantization fp8": ["--quantization", "fp8"],
  "--kv-cache-dtype fp8": ["--kv-cache-dtype", "fp8"],
  both: ["--quantization", "fp8", "--kv-cache-dtype", "fp8"],
};
const servers = {};
before(async () => {
  const names = ["default", ...Object.keys(variants)];
  const started = await Promise.all(names.map((n) => startServer(variants[n] ?? [], { model: null })));
  names.forEach((n, i) => { servers[n] = started[i]; });
});
after(async () => {
  for (const server of Object.values(servers)) assert.equal((await server.stop()).code, 0);
});

const questions = ["What is 123 + 456?", "What is 905 - 317?", "What is 12 * 34?", "45加54等于多少？"];

for (const name of Object.keys(variants)) {
  test(`${name}: greedy answers equal the default server's`, async () => {
    for (const q of questions) {
      const body = { messages: [{ role: "user", content: q }], temperature: 0, max_tokens: 32 };
      const [a, b] = await Promise.all([postJson(servers.default.url, "/v1/chat/completions", body),
                                        postJson(servers[name].url, "/v1/chat/completions", body)]);
      assert.equal(b.status, 200, b.text);
      assert.equal(b.json.choices[0].message.content, a.json.choices[0].message.content, q);
    }
  });
}

test("--quantization fp8 on a quantized checkpoint fails at start-up, saying why", () => {
  const model = path.join(repoRoot, "tests/data/quant/tiny-qwen2-fp8");
  const r = spawnSync(binary, ["serve", "--model", model, "--quantization", "fp8", "--port", "0"],
                      { encoding: "utf8", timeout: 30000 });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /--quantization fp8 quantises a dense checkpoint, and this one is already quantized/);
});
