// Battery group E, model and artifact loading (docs/reliability.md): malformed safetensors,
// tokenizer.json and config.json make `tern serve` exit 1 at once with one clear error
// line, never half-serve, never crash; a hostile chat template fails only the requests
// that render it. The parsers' every rule is unit-tested (tests/unit/safetensors_test.cpp
// SafetensorsE1.*, config_test.cpp, tokenizer_errors_test.cpp) and fuzzed (fuzz/); this
// file checks the process-level contract on a representative set.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";

import { metrics, repoRoot } from "../helpers.mjs";
import { caseTest, slow, startBatteryServer, stopBatteryServer } from "./harness.mjs";
import { modelVariant, readJson, readSafetensors, serveUntilExit, writeJson, writeSafetensors } from "./model_variants.mjs";

// Exit 1 within the time limit, /health never 200, exactly one ERROR line, naming `what`.
async function refuses(dir, what, args = [], { timeoutMs = 60000 } = {}) {
  const r = await serveUntilExit(dir, args, { timeoutMs });
  const detail = r.log.slice(-1500);
  assert.equal(r.code, 1, `exit status (signal ${r.signal}):\n${detail}`);
  assert.ok(!r.healthy, "/health never answered 200");
  assert.ok(r.ms < 30000 * slow, `took ${r.ms} ms`);
  const errors = r.log.split("\n").filter((l) => / ERROR /.test(l));
  assert.equal(errors.length, 1, detail);
  assert.match(errors[0], what);
  assert.doesNotMatch(r.log, /AddressSanitizer|runtime error:|terminate called|Segmentation/, detail);
}

const stCase = (mutateHeader) => modelVariant((dir) => {
  const { header, data } = readSafetensors(dir);
  const out = mutateHeader(header, data);
  writeSafetensors(dir, out.header ?? header, out.data ?? data);
});
const first = "model.embed_tokens.weight";

describe("E1: malformed safetensors", () => {
  const raw = (bytes) => modelVariant((dir) => writeFileSync(path.join(dir, "model.safetensors"), bytes));
  const length = (n) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(n)); return b; };
  const cases = {
    "a file shorter than the 8-byte length": () => raw(Buffer.from([1, 2, 3, 4])),
    "a header length past the end of the file": () => raw(Buffer.concat([length(1 << 20), Buffer.from("{}")])),
    "a header length over 100 MB": () => raw(Buffer.concat([length(200_000_000), Buffer.from("{}")])),
    "a header that is not UTF-8": () => raw(Buffer.concat([length(4), Buffer.from([0x7b, 0xff, 0xfe, 0x7d])])),
    "a header that is not JSON": () => raw(Buffer.concat([length(5), Buffer.from("{nope")])),
    "data_offsets out of range": () => stCase((h) => { h[first].data_offsets[1] = 1e9; return {}; }),
    "overlapping tensors": () => stCase((h) => { h["model.norm.weight"].data_offsets = [0, 128]; return {}; }),
    "shape x dtype not the span": () => stCase((h) => { h[first].shape = [1024, 63]; return {}; }),
    "shape x dtype overflowing u64": () => stCase((h) => { h[first].shape = [2 ** 40, 2 ** 40]; return {}; }),
    "trailing bytes": () => stCase((h, d) => ({ data: Buffer.concat([d, Buffer.alloc(16)]) })),
    "a repeated tensor name": () => stCase((h) => ({
      header: JSON.stringify(h).replace('{"__metadata__"', `{"${first}":${JSON.stringify(h[first])},"__metadata__"`) })),
    "a wrong dtype for a known weight": () => stCase((h) => { h[first].dtype = "I16"; return {}; }),
    "a missing weight": () => stCase((h, d) => {
      const norm = h["model.norm.weight"];
      delete h["model.norm.weight"];
      return { data: d.subarray(0, norm.data_offsets[0]) };
    }),
  };
  for (const [what, make] of Object.entries(cases)) {
    test(`E1: ${what}: exit 1 with one error line naming the file`, { timeout: 60000 * slow }, async () => {
      await refuses(make(), /model\.safetensors|weight|tensor/);
    });
  }
  test("E1: an index naming a missing shard", { timeout: 60000 * slow }, async () => {
    const dir = modelVariant((d) => {
      const { header } = readSafetensors(d);
      const map = {};
      for (const name of Object.keys(header)) if (name !== "__metadata__") map[name] = "model.safetensors";
      map["model.norm.weight"] = "model-00002-of-00002.safetensors";
      writeJson(d, "model.safetensors.index.json", { metadata: {}, weight_map: map });
    });
    await refuses(dir, /model-00002-of-00002\.safetensors/);
  });
});

describe("E2: adversarial tokenizer.json", () => {
  const tokenizerCase = (mutate) => modelVariant((dir) => {
    const t = readJson(dir, "tokenizer.json");
    mutate(t);
    writeJson(dir, "tokenizer.json", t);
  });
  const cases = {
    "10^6-deep JSON": () => modelVariant((dir) =>
      writeFileSync(path.join(dir, "tokenizer.json"), "[".repeat(1_000_000) + "]".repeat(1_000_000))),
    "an added token id past the vocabulary": () => tokenizerCase((t) => { t.added_tokens[0].id = 50000; }),
    "merges naming tokens that do not exist": () => tokenizerCase((t) => { t.model.merges.push(["zz\u0001", "qq\u0002"]); }),
    "a pre-tokenizer regex that does not compile": () => tokenizerCase((t) => {
      t.pre_tokenizer.pretokenizers[0].pattern.Regex = "(unclosed";
    }),
  };
  for (const [what, make] of Object.entries(cases)) {
    test(`E2: ${what}: exit 1 with one error line naming tokenizer.json`, { timeout: 60000 * slow }, async () => {
      await refuses(make(), /tokenizer\.json/);
    });
  }

  // A pathological (but valid) pre-tokenizer regex and a 1 MB added token load; text that
  // makes the regex backtrack fails that request in bounded time.
  let server;
  let longId;
  before(async () => {
    const dir = tokenizerCase((t) => {
      t.pre_tokenizer.pretokenizers[0].pattern.Regex = "(a+)+$|\\s+|[^\\sa]+";
      longId = t.added_tokens.at(-1).id + 1;
      t.added_tokens.push({ id: longId, content: "L".repeat(1 << 20), single_word: false, lstrip: false, rstrip: false,
                            normalized: false, special: false });
    });
    server = await startBatteryServer([], { model: dir });
  });
  after(async () => { await stopBatteryServer(server); });
  caseTest(() => server, "E2", "a catastrophic pre-tokenizer regex and a 1 MB added token: bounded time, 400 at worst",
    async (server) => {
      const start = performance.now();
      const r = await server.post("/tokenize", { prompt: "a".repeat(5000) + "!" });
      assert.ok([200, 400].includes(r.status), r.text);
      assert.ok(performance.now() - start < 10000 * slow, `${performance.now() - start} ms`);
      const long = await server.post("/tokenize", { prompt: "x" + "L".repeat(1 << 20) + "y" });
      assert.equal(long.status, 200);
      assert.ok(long.json.tokens.includes(longId));
    });
});

describe("E3: config.json", () => {
  const configCase = (mutate) => modelVariant((dir) => {
    const c = readJson(dir, "config.json");
    mutate(c);
    writeJson(dir, "config.json", c);
  });
  const cases = {
    "an unknown architecture": [(c) => { c.architectures = ["EvilForCausalLM"]; }, /architecture/],
    "hidden_size 2^40": [(c) => { c.hidden_size = 2 ** 40; }, /hidden_size/],
    "num_hidden_layers 0": [(c) => { c.num_hidden_layers = 0; }, /num_hidden_layers/],
    "max_position_embeddings 2^62": [(c) => { c.max_position_embeddings = 2 ** 62; }, /max_position_embeddings/],
    "vocab_size unlike the embedding rows": [(c) => { c.vocab_size = 2048; }, /embed_tokens|vocab|shape/],
  };
  for (const [what, [mutate, pattern]] of Object.entries(cases)) {
    test(`E3: ${what}: exit 1 with one error line naming the field`, { timeout: 60000 * slow }, async () => {
      await refuses(configCase(mutate), pattern);
    });
  }
  test("E3: pickle weights only (.bin, .pt, .pkl): refused, never unpickled", { timeout: 60000 * slow }, async () => {
    const dir = modelVariant((d) => {
      const st = path.join(d, "model.safetensors");
      writeFileSync(path.join(d, "pytorch_model.bin"), readFileSync(st));
      writeFileSync(st, "");
      for (const f of ["model.pt", "model.pkl"]) writeFileSync(path.join(d, f), "not a pickle");
    });
    await refuses(dir, /safetensors/);
  });
  test("E3: auto_map and trust_remote_code are ignored: the standard architecture serves", { timeout: 60000 * slow },
    async () => {
      const dir = configCase((c) => {
        c.auto_map = { AutoModelForCausalLM: "evil.EvilModel" };
        c.trust_remote_code = true;
      });
      writeFileSync(path.join(dir, "evil.py"), "raise SystemExit('executed')\n");
      const server = await startBatteryServer([], { model: dir });
      await stopBatteryServer(server);
    });
});

// E4 (and C5's hostile model template): the model's own template, from
// tokenizer_config.json, is hostile. The template compiles; each chat request that
// renders it fails alone, in bounded time, while completions go on.
const hostile = (name) => readFileSync(path.join(repoRoot, "tests/data/chat_templates/hostile", name), "utf8");
for (const [name, why] of [["step_budget.jinja", "a 10^10-step loop"], ["output_budget.jinja", "output doubling to 16 TB"],
                           ["recursion.jinja", "unbounded macro recursion"], ["escape.jinja", "an SSTI payload"]]) {
  describe(`E4: a tokenizer_config.json template with ${why}`, () => {
    let server;
    before(async () => {
      const dir = modelVariant((d) => {
        const c = readJson(d, "tokenizer_config.json");
        c.chat_template = hostile(name);
        writeJson(d, "tokenizer_config.json", c);
      });
      server = await startBatteryServer([], { model: dir, chatTemplate: null });
    });
    after(async () => { await stopBatteryServer(server); });
    caseTest(() => server, "E4", `${why}: that chat request is a 400 in bounded time; other requests run`,
      async (server) => {
        const chat = (async () => {
          const start = performance.now();
          const r = await server.post("/v1/chat/completions", { messages: [{ role: "user", content: "render me" }] });
          return { r, ms: performance.now() - start };
        })();
        const other = await server.post("/v1/completions", { prompt: "meanwhile", max_tokens: 4 });
        assert.equal(other.status, 200);
        const { r, ms } = await chat;
        assert.equal(r.status, 400, r.text);
        assert.equal(r.json.error.param, "messages");
        assert.match(r.json.error.message, /chat template/);
        assert.ok(ms < 20000 * slow, `${ms} ms`);
        assert.equal((await metrics(server.url)).tern_engine_healthy, 1);
      });
  });
}

// Issue 23, findings 3 and 4: every file tern reads from a model folder must be a regular
// file (after following links) under a size cap. /dev/zero once made the loader read until
// memory ran out, and a FIFO hung start-up with /health at 503 and nothing logged.
const MODEL_FILES = ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                     "generation_config.json", "chat_template.jinja", "model.safetensors.index.json"];
const replaced = (file, make) => modelVariant((dir) => {
  rmSync(path.join(dir, file), { force: true });
  make(path.join(dir, file));
});
const named = (file) => new RegExp(file.replace(/\./g, "\\.") + ".*(regular file|FIFO|device)");

describe("E5: a model file that is a link to /dev/zero, or larger than its cap", () => {
  for (const file of MODEL_FILES) {
    test(`E5: ${file} -> /dev/zero: exit 1 at once, one error line naming the file`, { timeout: 60000 * slow },
      async () => { await refuses(replaced(file, (p) => symlinkSync("/dev/zero", p)), named(file)); });
  }
  for (const file of ["tokenizer.json", "tokenizer_config.json", "generation_config.json", "chat_template.jinja"]) {
    test(`E5: a sparse 2 GiB ${file}: refused by its size before it is read`, { timeout: 60000 * slow }, async () => {
      const dir = replaced(file, (p) => { writeFileSync(p, ""); truncateSync(p, 2 ** 31); });
      await refuses(dir, new RegExp(file.replace(/\./g, "\\.") + ".*bytes.*limit"));
    });
  }
});

describe("E6: a model file that is a FIFO", () => {
  for (const file of MODEL_FILES) {
    test(`E6: ${file} as a named pipe: exit 1 at once (never blocks), one error line naming the file`,
      { timeout: 60000 * slow }, async () => {
        await refuses(replaced(file, (p) => execFileSync("mkfifo", [p])), named(file), [], { timeoutMs: 15000 * slow });
      });
  }
});

// Issue 23, finding 5: `hidden_act` was never read, so a GELU model ran with SiLU. Every
// config.json field that changes the math is honoured or refused (the whole list is
// unit-tested in tests/unit/config_test.cpp); here the process-level contract.
describe("E7: config.json hidden_act", () => {
  const configCase = (mutate) => modelVariant((dir) => {
    const c = readJson(dir, "config.json");
    mutate(c);
    writeJson(dir, "config.json", c);
  });
  for (const [act, pattern] of [["relu", /hidden_act.*relu/], ["quick_gelu", /hidden_act.*quick_gelu/],
                                [17, /hidden_act/]]) {
    test(`E7: hidden_act ${JSON.stringify(act)}: exit 1 with one error line naming hidden_act`, { timeout: 60000 * slow },
      async () => { await refuses(configCase((c) => { c.hidden_act = act; }), pattern); });
  }

  // The first token's logprob under each activation: GELU variants load, run, and differ
  // from SiLU (and from each other); "swish" is SiLU by another name.
  test("E7: silu, swish, gelu and gelu_pytorch_tanh are served, each with its own activation", { timeout: 120000 * slow },
    async () => {
      const logprob = {};
      for (const act of ["silu", "swish", "gelu", "gelu_pytorch_tanh"]) {
        const server = await startBatteryServer([], { model: configCase((c) => { c.hidden_act = act; }) });
        try {
          const r = await server.post("/v1/completions", { prompt: "Which activation is this", max_tokens: 1,
                                                           temperature: 0, logprobs: 1 });
          assert.equal(r.status, 200, r.text);
          logprob[act] = r.json.choices[0].logprobs.top_logprobs[0];
        } finally {
          await stopBatteryServer(server);
        }
      }
      assert.deepEqual(logprob.swish, logprob.silu);
      assert.notDeepEqual(logprob.gelu, logprob.silu);
      assert.notDeepEqual(logprob.gelu_pytorch_tanh, logprob.silu);
      assert.notDeepEqual(logprob.gelu_pytorch_tanh, logprob.gelu);
    });
});
