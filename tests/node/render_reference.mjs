// Renders every (template, conversation) pair of tests/data/chat_templates with
// @huggingface/jinja and writes tests/data/chat_templates/expected_hfjinja.json, one of
// the two references tern's chat-template test compares with (transformers is the other
// and wins where they differ). Usage: cd tests/node && npm install && npm run render
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Template } from "@huggingface/jinja";

const dataDir = join(dirname(fileURLToPath(import.meta.url)), "..", "data", "chat_templates");
const readJson = (name) => JSON.parse(readFileSync(join(dataDir, name), "utf8"));

const { templates } = readJson("templates.json");
const { conversations } = readJson("conversations.json");
const version = readJson(join("..", "..", "node", "node_modules", "@huggingface", "jinja", "package.json")).version;

// The variables transformers' apply_chat_template passes to the template.
function context(template, conversation) {
  const ctx = {
    messages: conversation.messages,
    tools: conversation.tools ?? null,
    documents: null,
    add_generation_prompt: conversation.add_generation_prompt,
  };
  if (template.bos_token !== null) ctx.bos_token = template.bos_token;
  if (template.eos_token !== null) ctx.eos_token = template.eos_token;
  return { ...ctx, ...(conversation.extra_variables ?? {}) };
}

const results = {};
for (const template of templates) {
  const compiled = new Template(readFileSync(join(dataDir, template.file), "utf8"));
  for (const conversation of conversations) {
    const key = `${template.name}/${conversation.name}`;
    try {
      results[key] = { text: compiled.render(context(template, conversation)) };
    } catch (e) {
      results[key] = { error: String(e.message ?? e) };
    }
  }
}

const out = { reference: `@huggingface/jinja ${version}`, results };
writeFileSync(join(dataDir, "expected_hfjinja.json"), JSON.stringify(out, null, 2) + "\n");
console.log(`wrote ${Object.keys(results).length} renderings to expected_hfjinja.json`);
