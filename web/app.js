// tern's chat page: a multi-turn chat over /v1/chat/completions with streaming, a stop
// button that aborts the request (the server then frees its KV cache), and per-reply time
// to first token and tokens per second. Text is always inserted as text, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const turns = [];  // {role, content} of finished turns
let modelId = null;
let controller = null;  // AbortController of the reply in progress

const settingsKey = "tern-chat-settings";
const settingFields = ["system", "temperature", "top-p", "max-tokens", "api-key"];

function loadSettings() {
  try {
    const saved = JSON.parse(localStorage.getItem(settingsKey) || "{}");
    for (const id of settingFields) if (typeof saved[id] === "string") $(id).value = saved[id];
  } catch (_) { /* unreadable settings: keep the defaults */ }
}

function saveSettings() {
  const values = {};
  for (const id of settingFields) values[id] = $(id).value;
  localStorage.setItem(settingsKey, JSON.stringify(values));
}

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = $("api-key").value.trim();
  if (key) h.Authorization = "Bearer " + key;
  return h;
}

function addMessage(role, text) {
  const div = document.createElement("div");
  div.className = "message " + role;
  const content = document.createElement("div");
  content.className = "content";
  content.textContent = text;
  div.appendChild(content);
  $("log").appendChild(div);
  div.scrollIntoView({ block: "end" });
  return div;
}

function setStats(div, text) {
  let stats = div.querySelector(".stats");
  if (!stats) {
    stats = document.createElement("div");
    stats.className = "stats";
    div.appendChild(stats);
  }
  stats.textContent = text;
}

async function loadModel() {
  try {
    const response = await fetch("/v1/models", { headers: headers() });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error ? body.error.message : response.statusText);
    modelId = body.data[0].id;
    $("model").textContent = modelId;
  } catch (e) {
    $("model").textContent = "model unavailable: " + e.message;
  }
}

function numberSetting(id, fallback) {
  const v = parseFloat($(id).value);
  return Number.isFinite(v) ? v : fallback;
}

function requestBody() {
  const messages = [];
  const system = $("system").value.trim();
  if (system) messages.push({ role: "system", content: system });
  messages.push(...turns);
  const body = {
    messages,
    stream: true,
    stream_options: { include_usage: true },
    temperature: numberSetting("temperature", 0.7),
    top_p: numberSetting("top-p", 1),
    max_tokens: Math.max(1, Math.round(numberSetting("max-tokens", 256))),
  };
  if (modelId) body.model = modelId;
  return body;
}

// Yields the JSON payload of each "data:" event until [DONE].
async function* events(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      for (const line of event.split("\n")) {
        if (!line.startsWith("data: ")) continue;
        const data = line.slice(6);
        if (data === "[DONE]") return;
        yield JSON.parse(data);
      }
    }
  }
}

function formatStats(start, firstToken, end, tokens, note) {
  const parts = [];
  if (firstToken !== null) parts.push("TTFT " + Math.round(firstToken - start) + " ms");
  if (firstToken !== null && tokens > 1 && end > firstToken) {
    parts.push(((tokens - 1) / ((end - firstToken) / 1000)).toFixed(1) + " tok/s");
  }
  parts.push(tokens + " tokens");
  if (note) parts.push(note);
  return parts.join(" · ");
}

async function send(text) {
  turns.push({ role: "user", content: text });
  addMessage("user", text);
  const reply = addMessage("assistant", "");
  reply.classList.add("streaming");
  const content = reply.querySelector(".content");
  controller = new AbortController();
  $("send").disabled = true;
  $("stop").hidden = false;

  const start = performance.now();
  let firstToken = null;
  let tokens = 0;
  let usageTokens = null;
  let note = "";
  try {
    const response = await fetch("/v1/chat/completions", {
      method: "POST",
      headers: headers(),
      body: JSON.stringify(requestBody()),
      signal: controller.signal,
    });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      throw new Error(body.error ? body.error.message : response.status + " " + response.statusText);
    }
    for await (const chunk of events(response)) {
      if (chunk.error) throw new Error(chunk.error.message);
      if (chunk.usage) usageTokens = chunk.usage.completion_tokens;
      for (const choice of chunk.choices || []) {
        const piece = choice.delta && choice.delta.content;
        if (piece) {
          if (firstToken === null) firstToken = performance.now();
          tokens += 1;
          content.textContent += piece;
          reply.scrollIntoView({ block: "end" });
        }
        if (choice.finish_reason === "length") note = "stopped at max tokens";
      }
      setStats(reply, formatStats(start, firstToken, performance.now(), usageTokens ?? tokens, note));
    }
  } catch (e) {
    if (e.name === "AbortError") {
      note = "stopped";
    } else {
      reply.classList.add("error");
      content.textContent += (content.textContent ? "\n" : "") + "Error: " + e.message;
      note = "failed";
    }
  } finally {
    reply.classList.remove("streaming");
    if (!note && !content.textContent) note = "empty reply: the model ended at once";
    setStats(reply, formatStats(start, firstToken, performance.now(), usageTokens ?? tokens, note));
    if (!reply.classList.contains("error")) turns.push({ role: "assistant", content: content.textContent });
    else turns.pop();  // the failed turn is not sent again
    controller = null;
    $("send").disabled = false;
    $("stop").hidden = true;
    $("prompt").focus();
  }
}

function init() {
  loadSettings();
  for (const id of settingFields) $(id).addEventListener("change", saveSettings);
  $("api-key").addEventListener("change", loadModel);
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("prompt").value.trim();
    if (!text || controller) return;
    $("prompt").value = "";
    send(text);
  });
  $("prompt").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("stop").addEventListener("click", () => { if (controller) controller.abort(); });
  $("new-chat").addEventListener("click", () => {
    if (controller) controller.abort();
    turns.length = 0;
    $("log").textContent = "";
  });
  loadModel();
}

init();
