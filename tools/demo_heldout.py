#!/usr/bin/env python3
"""Evaluation text for the demo model (models/tern-demo): chat transcripts like its training
data, held out from it, for `tern perplexity`; and training-like calibration text for
`tern quantize --method gptq`. Plain Python, deterministic.

    python3 tools/demo_heldout.py --out tests/data/demo_heldout [--tern build/src/app/tern]

Writes OUT/dialogues.jsonl, OUT/replies.jsonl and OUT/calibration.txt:

  * dialogues.jsonl: one {"text": ...} per held-out dialogue, rendered with the model's chat
    template (Qwen2.5's) exactly as training rendered dialogues (no generation prompt, so each
    message ends with <|im_end|> and a newline). `tern perplexity` scores every token.
  * replies.jsonl: one {"prompt": ..., "completion": ...} per assistant turn of the same
    dialogues: the prompt is the conversation before the reply with the generation prompt
    (`<|im_start|>assistant\\n`), the completion the reply and its <|im_end|>: exactly the
    tokens training put its loss on.
  * calibration.txt: training-split dialogues, rendered the same way and concatenated.

How the held-out dialogues are kept out of training: demo_data.make_dialogue draws every
arithmetic turn from the held-out pairs (split() == "test", which training never samples),
and a dialogue with no arithmetic turn (only small talk, which is a fixed set of messages and
replies seen in training) is dropped. So every held-out dialogue contains at least one
question whose operand pair the model never saw, and none can be a training dialogue. The
small-talk turns inside them and the system prompts are the training ones. Python-docstring
turns are left out: they need Python 3.12.3's standard library, which made the training data
(with no docstrings, make_dialogue turns those 4% of turns into arithmetic).

With --tern, every rendering is checked against `tern render-chat` with the model's template.
"""
import argparse
import json
import os
import random
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import demo_data  # noqa: E402


MATH_REPLY = re.compile(r"(\d+) [-+*] (\d+) = -?\d+\.|(\d+)(?:加|减|乘以)(\d+)等于-?\d+。")


def operand_pairs(dialogue):
    """The (A, B) of every arithmetic reply of the dialogue."""
    pairs = []
    for m in dialogue:
        match = MATH_REPLY.fullmatch(m["content"]) if m["role"] == "assistant" else None
        if match:
            a, b = (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))
            pairs.append((int(a), int(b)))
    return pairs


def render(messages, generation_prompt=False):
    """The Qwen2.5 chat template for tool-free conversations (the demo model's)."""
    if messages and messages[0]["role"] == "system":
        out, rest = f"<|im_start|>system\n{messages[0]['content']}<|im_end|>\n", messages[1:]
    else:
        out, rest = f"<|im_start|>system\n{demo_data.DEFAULT_SYSTEM}<|im_end|>\n", messages
    for m in rest:
        out += f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n"
    return out + ("<|im_start|>assistant\n" if generation_prompt else "")


def check_with_tern(tern, model, messages, generation_prompt, expected):
    args = [tern, "render-chat", "--model", model] + ([] if generation_prompt else ["--no-generation-prompt"])
    got = subprocess.run(args, input=json.dumps({"messages": messages}).encode(), capture_output=True, check=True)
    if got.stdout.decode() != expected:
        raise SystemExit(f"tern render-chat differs for {messages!r}:\n{got.stdout.decode()!r}\n{expected!r}")


def dialogues(rng, count, part):
    """`count` dialogues with arithmetic from the pairs of split() `part`; for the held-out
    part, only those with at least one arithmetic turn."""
    out = []
    while len(out) < count:
        d = demo_data.make_dialogue(rng, [], part)
        pairs = operand_pairs(d)
        # Checked independently of how make_dialogue drew them.
        assert all(demo_data.split(a, b) == part for a, b in pairs), (d, pairs)
        if part == "train" or pairs:
            out.append(d)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--dialogues", type=int, default=300, help="held-out dialogues")
    ap.add_argument("--calibration-dialogues", type=int, default=150)
    ap.add_argument("--seed", type=int, default=20260)
    ap.add_argument("--tern", help="tern binary: check every rendering against `tern render-chat`")
    ap.add_argument("--model", default="models/tern-demo", help="model whose chat template --tern checks")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = random.Random(args.seed)
    held_out = dialogues(rng, args.dialogues, "test")
    calibration = dialogues(rng, args.calibration_dialogues, "train")

    replies = []
    for d in held_out:
        for i, m in enumerate(d):
            if m["role"] == "assistant":
                replies.append((d[:i], m["content"] + "<|im_end|>"))
    if args.tern:
        for d in held_out + calibration:
            check_with_tern(args.tern, args.model, d, False, render(d))
        for prompt, _ in replies:
            check_with_tern(args.tern, args.model, prompt, True, render(prompt, True))
        print(f"{len(held_out) + len(calibration) + len(replies)} renderings agree with tern render-chat")

    with open(os.path.join(args.out, "dialogues.jsonl"), "w", encoding="utf-8") as f:
        for d in held_out:
            f.write(json.dumps({"text": render(d)}, ensure_ascii=False) + "\n")
    with open(os.path.join(args.out, "replies.jsonl"), "w", encoding="utf-8") as f:
        for prompt, completion in replies:
            f.write(json.dumps({"prompt": render(prompt, True), "completion": completion}, ensure_ascii=False) + "\n")
    with open(os.path.join(args.out, "calibration.txt"), "w", encoding="utf-8") as f:
        f.write("".join(render(d) for d in calibration))
    math = sum(len(operand_pairs(d)) for d in held_out)
    print(f"{len(held_out)} held-out dialogues, {len(replies)} replies ({math} arithmetic), "
          f"{len(calibration)} calibration dialogues written to {args.out}")


if __name__ == "__main__":
    sys.exit(main())
