#!/usr/bin/env python3
"""Writes tests/data/chat_templates/expected_transformers.json: every (template,
conversation) pair of tests/data/chat_templates rendered by Hugging Face transformers'
apply_chat_template(..., tokenize=False). tern's chat-template test requires its
renderer to match these byte for byte (where @huggingface/jinja disagrees, this file
wins).

Needs `transformers` and `tokenizers` (no network, no model download): the tokenizer
is a one-token stand-in, since only the chat template and the special tokens passed
as keyword arguments matter for the rendering.

Usage: python3 tools/make_chat_template_fixtures.py [--data-dir tests/data/chat_templates]
"""
import argparse
import json
import os
import sys


def make_tokenizer():
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel({"<unk>": 0}, unk_token="<unk>")))


def render(tokenizer, source, template, conversation):
    kwargs = {}
    for token in ("bos_token", "eos_token"):
        if template[token] is not None:
            kwargs[token] = template[token]
    kwargs.update(conversation.get("extra_variables", {}))
    return tokenizer.apply_chat_template(
        conversation["messages"],
        tools=conversation.get("tools"),
        chat_template=source,
        add_generation_prompt=conversation["add_generation_prompt"],
        tokenize=False,
        **kwargs,
    )


def main():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.path.join(repo, "tests", "data", "chat_templates"))
    args = parser.parse_args()

    import jinja2
    import transformers

    with open(os.path.join(args.data_dir, "templates.json"), encoding="utf-8") as f:
        templates = json.load(f)["templates"]
    with open(os.path.join(args.data_dir, "conversations.json"), encoding="utf-8") as f:
        conversations = json.load(f)["conversations"]

    tokenizer = make_tokenizer()
    results = {}
    for template in templates:
        with open(os.path.join(args.data_dir, template["file"]), encoding="utf-8") as f:
            source = f.read()
        for conversation in conversations:
            key = f"{template['name']}/{conversation['name']}"
            try:
                results[key] = {"text": render(tokenizer, source, template, conversation)}
            except Exception as e:  # a template's raise_exception() or an error it hits
                results[key] = {"error": str(e)}

    out = {"reference": f"transformers {transformers.__version__}, jinja2 {jinja2.__version__}", "results": results}
    path = os.path.join(args.data_dir, "expected_transformers.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {len(results)} renderings to {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
