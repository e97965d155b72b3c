// Graceful shutdown: on SIGTERM the server stops accepting, lets in-flight streams end
// cleanly (or aborts them at --shutdown-timeout, still ending each stream with [DONE]),
// and exits 0. A second signal exits at once.
import assert from "node:assert/strict";
import { test } from "node:test";

import { readSse, startServer } from "./helpers.mjs";

async function openStream(server, maxTokens) {
  const response = await fetch(server.url + "/v1/completions", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ prompt: "tell a story", max_tokens: maxTokens, ignore_eos: true, stream: true }),
  });
  assert.equal(response.status, 200);
  return response;
}

function finishReasons(events) {
  assert.equal(events.at(-1), "[DONE]");
  return events.slice(0, -1).flatMap((e) => e.choices.filter((c) => c.finish_reason).map((c) => c.finish_reason));
}

test("SIGTERM lets in-flight streams finish, refuses new requests, exits 0", async () => {
  const server = await startServer(["--shutdown-timeout", "30"]);
  const streams = await Promise.all(Array.from({ length: 4 }, () => openStream(server, 300)));
  server.proc.kill("SIGTERM");
  const events = await Promise.all(streams.map(readSse));
  for (const e of events) assert.deepEqual(finishReasons(e), ["length"]);
  // A new connection is refused; a kept-alive one is answered 503 and closed.
  const late = await fetch(server.url + "/health").catch((e) => e);
  assert.ok(late instanceof Error || late.status === 503, String(late.status));
  const { code } = await server.exited;
  assert.equal(code, 0);
  assert.match(server.log(), /server stopped/);
});

test("--shutdown-timeout 0 aborts in-flight streams, which still end with [DONE]", async () => {
  const server = await startServer(["--shutdown-timeout", "0"]);
  const streams = await Promise.all(Array.from({ length: 16 }, () => openStream(server, 480)));
  const start = Date.now();
  server.proc.kill("SIGTERM");
  const events = await Promise.all(streams.map(readSse));
  const reasons = events.map(finishReasons).flat();
  assert.equal(reasons.length, 16);
  assert.ok(reasons.includes("abort"), reasons.join(","));
  const { code } = await server.exited;
  assert.equal(code, 0);
  assert.ok(Date.now() - start < 2000);
});

test("a second signal exits at once", async () => {
  const server = await startServer(["--shutdown-timeout", "60"]);
  const streams = await Promise.all(Array.from({ length: 16 }, () => openStream(server, 480)));
  server.proc.kill("SIGTERM");
  await new Promise((resolve) => setTimeout(resolve, 50));
  server.proc.kill("SIGTERM");
  const { code } = await server.exited;
  assert.notEqual(code, 0);
  await Promise.allSettled(streams.map((s) => s.text()));
});
