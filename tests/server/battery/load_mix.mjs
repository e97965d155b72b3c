// Mixed Poisson traffic for battery case G3 and the soak (J1, scripts/soak.sh): requests
// arrive at `rate` per second with exponential gaps; each is one of
//   normal (80 %): a completion or chat, 1-`maxPromptWords` prompt words, 1-`maxTokens` tokens,
//                  streamed half the time;
//   cancel (10 %): a normal request the client abandons after 10-300 ms;
//   invalid (5 %): a malformed request, which must get a 400;
//   disconnect (5 %): a stream the client drops after its first events.
// Every request must reach a terminal state; any other status, a 5xx, or a hang (no
// answer within `requestTimeoutMs`) is counted as a failure.
const WORDS = ["alpha", "beta", "gamma", "delta", "river", "stone", "cloud", "ember", "lumen", "quartz", "tern"];

function rng(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0; x ^= x >> 17; x ^= x << 5; x >>>= 0;
    return x / 4294967296;
  };
}

const INVALID = [
  { prompt: "x", temperature: -1 }, { prompt: "x", n: 0 }, { prompt: [] }, { messages: "hi" },
  { prompt: "x", max_tokens: "ten" }, { prompt: [5000] }, { prompt: "x", stop: [""] },
];

export async function runMix(url, { durationMs, rate, maxTokens = 64, maxPromptWords = 100, seed = 1,
                                    requestTimeoutMs = 120000,
                                    headers = {}, onProgress = null } = {}) {
  const random = rng(seed);
  const pick = (list) => list[Math.floor(random() * list.length)];
  const stats = { sent: 0, completed: 0, cancelled: 0, invalid: 0, disconnected: 0, failures: [], ttft: [], itl: [] };
  const pending = new Set();
  const start = Date.now();
  const prompt = () => Array.from({ length: 1 + Math.floor(random() * maxPromptWords) }, () => pick(WORDS)).join(" ");

  const one = async (kind, stream, chat, body) => {
    const controller = new AbortController();
    const hang = setTimeout(() => controller.abort(new Error("hang")), requestTimeoutMs);
    if (kind === "cancel") setTimeout(() => controller.abort(new Error("cancel")), 10 + random() * 290);
    const route = chat ? "/v1/chat/completions" : "/v1/completions";
    const sent = performance.now();
    try {
      const response = await fetch(url + route, {
        method: "POST", headers: { "Content-Type": "application/json", ...headers },
        body: JSON.stringify(stream ? { ...body, stream: true } : body), signal: controller.signal });
      if (kind === "invalid") {
        await response.text();
        if (response.status === 400) ++stats.invalid;
        else stats.failures.push(`invalid request answered ${response.status}`);
        return;
      }
      if (response.status !== 200) {
        stats.failures.push(`${route} answered ${response.status}: ${(await response.text()).slice(0, 200)}`);
        return;
      }
      if (!stream) {
        const json = await response.json();
        if (!json.choices?.[0]?.finish_reason) stats.failures.push("a response without finish_reason");
        ++stats.completed;
        return;
      }
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let text = "";
      let last = null;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const now = performance.now();
        if (last === null) stats.ttft.push(now - sent); else stats.itl.push(now - last);
        last = now;
        text += decoder.decode(value, { stream: true });
        if (kind === "disconnect" && (text.match(/^data: /gm) || []).length >= 2) {
          controller.abort(new Error("disconnect"));
          ++stats.disconnected;
          return;
        }
      }
      if (!text.endsWith("data: [DONE]\n\n")) stats.failures.push("a stream that did not end with [DONE]");
      else if (text.includes('"error"')) stats.failures.push("a stream with an error event: " + text.slice(-300));
      else ++stats.completed;
    } catch (e) {
      const reason = controller.signal.reason?.message;
      if (reason === "cancel") ++stats.cancelled;
      else if (reason === "disconnect") { /* counted above */ }
      else stats.failures.push(reason === "hang" ? `no answer within ${requestTimeoutMs} ms` : `${e.name}: ${e.message}`);
    } finally {
      clearTimeout(hang);
    }
  };

  while (Date.now() - start < durationMs) {
    const r = random();
    const kind = r < 0.8 ? "normal" : r < 0.9 ? "cancel" : r < 0.95 ? "invalid" : "disconnect";
    const chat = random() < 0.5;
    const stream = kind === "disconnect" || random() < 0.5;
    const params = { max_tokens: 1 + Math.floor(random() * maxTokens), temperature: random() < 0.5 ? 0 : 0.8,
                     seed: Math.floor(random() * 1e6) };
    const body = kind === "invalid" ? pick(INVALID)
               : chat ? { messages: [{ role: "user", content: prompt() }], ...params } : { prompt: prompt(), ...params };
    ++stats.sent;
    const p = one(kind, stream, chat, body);
    pending.add(p);
    p.finally(() => pending.delete(p));
    if (onProgress) onProgress(stats);
    await new Promise((resolve) => setTimeout(resolve, -Math.log(1 - random()) * 1000 / rate));
  }
  await Promise.all(pending);
  return stats;
}

export function percentile(values, p) {
  if (!values.length) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}
