// `tern serve <repo id>` from a Hugging Face hub cache the test makes out of the tiny
// model (blobs/, snapshots/<hash>/ links, refs/main), with several --served-model-name
// names: each is accepted in requests and listed by /v1/models, the first is the id.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";

import { chatml, postJson, startServer, tinyModel } from "./helpers.mjs";

const hash = "4f1c0e7d9b2a3c5e6f708192a3b4c5d6e7f80912";
let hub;
let server;

before(async () => {
  hub = fs.mkdtempSync(path.join(os.tmpdir(), "tern-hub-"));
  const repo = path.join(hub, "models--tern-tests--tiny-qwen2");
  for (const dir of ["blobs", `snapshots/${hash}`, "refs"]) fs.mkdirSync(path.join(repo, dir), { recursive: true });
  fs.readdirSync(tinyModel).forEach((file, i) => {
    fs.copyFileSync(path.join(tinyModel, file), path.join(repo, "blobs", `blob${i}`));
    fs.symlinkSync(`../../blobs/blob${i}`, path.join(repo, "snapshots", hash, file));
  });
  fs.writeFileSync(path.join(repo, "refs", "main"), hash);
  server = await startServer(["tern-tests/tiny-qwen2", "--chat-template", chatml, "--served-model-name", "tiny",
                              "tiny-alias"],
                             { model: null, env: { HF_HUB_CACHE: hub, HF_HOME: "/nonexistent" } });
});

after(async () => {
  if (server) assert.equal((await server.stop()).code, 0);
  fs.rmSync(hub, { recursive: true, force: true });
});

test("the positional repo id loads the cached snapshot", () => {
  assert.match(server.log(), new RegExp(`snapshots/${hash}`));
});

test("every served name is listed and accepted; responses carry the first", async () => {
  const models = await (await fetch(server.url + "/v1/models")).json();
  assert.deepEqual(models.data.map((m) => m.id), ["tiny", "tiny-alias"]);
  assert.equal((await fetch(server.url + "/v1/models/tiny-alias")).status, 200);
  for (const model of ["tiny", "tiny-alias"]) {
    const r = await postJson(server.url, "/v1/completions", { model, prompt: "Hello", max_tokens: 2 });
    assert.equal(r.status, 200);
    assert.equal(r.json.model, "tiny");
  }
  const wrong = await postJson(server.url, "/v1/completions", { model: "tern-tests/tiny-qwen2", prompt: "Hi" });
  assert.equal(wrong.status, 404);
  assert.match(wrong.json.error.message, /this server serves "tiny", "tiny-alias"/);
});
