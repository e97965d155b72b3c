#!/usr/bin/env python3
"""Held-out accuracy of the demo model with transformers greedy decoding (GPU or CPU), or with
tern's own greedy decoding (--tern; no torch needed, so it runs on the development machine).

    python3 tools/demo_eval.py --model models/tern-demo [--per-cell 200] [--dtype float32]
        [--system "You are a calculator."] [--write-questions models/tern-demo/eval_questions.json]
    python3 tools/demo_eval.py --model DIR --tern build/src/app/tern [--tern-args "--backend cpu"]

Questions come from tools/demo_data.py's held-out pairs (never trained on): per-cell of each
operation (+, -, *) in each language (en, zh), asked as a single user turn through the model's
chat template (with no --system, the Qwen2.5 template's default system prompt), exactly as
`tern serve` sends a chat request. A reply counts when its text before <|im_end|> equals the
expected one (`A + B = C.`, `A加B等于C。`) and <|im_end|> comes within the token limit.
With --tern, the questions go through `tern generate --chat --json` (greedy, --logprobs 2 for
the margins) and are scored the same way; --dtype does not apply (tern's backend decides).

--write-questions writes the questions for tern's CI test: 40 distinct held-out questions,
spread over operations and languages, that greedy decoding answers exactly with a top-1 over
top-2 logit margin of at least 1.0 at every reply token, with their prompt and reply ids.
"""
import argparse
import json
import os
import random
import shlex
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import demo_data  # noqa: E402

MAX_NEW_TOKENS = 32
CI_QUESTIONS = 40
CI_MIN_MARGIN = 1.0


def load_tokenizer(model_dir):
    """transformers' tokenizer for model_dir, insisting on the chat template of its
    tokenizer_config.json (the one tern reads)."""
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(model_dir)
    with open(os.path.join(model_dir, "tokenizer_config.json"), encoding="utf-8") as f:
        template = json.load(f)["chat_template"]
    if tok.chat_template != template:
        print(f"warning: transformers did not load the chat template of {model_dir}/tokenizer_config.json; "
              "setting it", flush=True)
        tok.chat_template = template
    return tok


def prompt_ids(tok, question, system=None):
    messages = ([{"role": "system", "content": system}] if system is not None else []) + \
        [{"role": "user", "content": question}]
    text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return tok(text, add_special_tokens=False)["input_ids"]


def greedy(model, prompts, eos_id, pad_id, batch_size=512):
    """Greedy replies of `prompts` (lists of ids). Prompts of equal length are batched, so no
    padding is needed. Returns per prompt (reply ids up to and including eos or the limit,
    whether eos came, smallest top-1 minus top-2 logit over the reply tokens)."""
    import torch
    with torch.no_grad():
        return _greedy(torch, model, prompts, eos_id, pad_id, batch_size)


def _greedy(torch, model, prompts, eos_id, pad_id, batch_size):
    device = next(model.parameters()).device
    by_len = {}
    for i, p in enumerate(prompts):
        by_len.setdefault(len(p), []).append(i)
    out = [None] * len(prompts)
    for length, idx in sorted(by_len.items()):
        for start in range(0, len(idx), batch_size):
            part = idx[start:start + batch_size]
            x = torch.tensor([prompts[i] for i in part], device=device)
            gen = model.generate(input_ids=x, attention_mask=torch.ones_like(x), max_new_tokens=MAX_NEW_TOKENS,
                                 do_sample=False, eos_token_id=eos_id, pad_token_id=pad_id,
                                 return_dict_in_generate=True, output_scores=True)
            seqs = gen.sequences[:, length:].tolist()
            top2 = torch.stack(gen.scores, 1).float().topk(2, dim=-1).values  # [batch, steps, 2]
            margins = (top2[..., 0] - top2[..., 1]).tolist()
            for row, i in enumerate(part):
                ids = seqs[row]
                n = ids.index(eos_id) + 1 if eos_id in ids else len(ids)
                out[i] = (ids[:n], eos_id in ids[:n], min(margins[row][:n]))
    return out


def evaluate(model_dir, questions, dtype=None, device=None, system=None):
    """Greedy answers to `questions` (demo_data.heldout_questions). Returns (results, summary):
    results are the questions with output, correct, min_margin, prompt_ids and reply_ids added;
    the summary holds accuracy overall, per op/lang cell, and on questions whose swapped
    pair is held out too."""
    import torch
    from transformers import AutoModelForCausalLM
    dtype = dtype or torch.float32
    device = device or torch.device("cuda" if torch.cuda.is_available() else "cpu")
    tok = load_tokenizer(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype).to(device).eval()
    eos_id = tok.convert_tokens_to_ids("<|im_end|>")
    pad_id = tok.convert_tokens_to_ids("<|endoftext|>")
    prompts = [prompt_ids(tok, q["question"], system) for q in questions]
    replies = greedy(model, prompts, eos_id, pad_id)
    results = []
    for q, p, (ids, finished, margin) in zip(questions, prompts, replies):
        text = tok.decode(ids[:-1] if finished else ids, skip_special_tokens=False)
        results.append(dict(q, output=text, correct=finished and text == q["answer"], min_margin=margin,
                             prompt_ids=p, reply_ids=ids))
    del model
    return results, summarize(results)


def evaluate_tern(tern, model_dir, questions, extra_args=""):
    """As evaluate(), with `tern generate --chat` greedy decoding (default system prompt)."""
    with open(os.path.join(model_dir, "tokenizer.json"), encoding="utf-8") as f:
        eos_id = next(t["id"] for t in json.load(f)["added_tokens"] if t["content"] == "<|im_end|>")
    with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8", delete=False) as f:
        json.dump([q["question"] for q in questions], f, ensure_ascii=False)
        prompts_file = f.name
    try:
        args = [tern, "generate", "--quiet", "--model", model_dir, "--chat", "--prompts-file", prompts_file, "--json",
                "--max-tokens", str(MAX_NEW_TOKENS), "--logprobs", "2", "--max-waiting", str(max(1024, len(questions)))]
        args += shlex.split(extra_args)
        out = subprocess.run(args, capture_output=True, text=True, check=True).stdout.splitlines()
    finally:
        os.unlink(prompts_file)
    if len(out) != len(questions):
        raise SystemExit(f"tern generate printed {len(out)} results for {len(questions)} questions")
    results = []
    for q, line in zip(questions, out):
        r = json.loads(line)
        ids = r["token_ids"]
        finished = bool(ids) and ids[-1] == eos_id
        margin = min(lp["top_logprobs"][0]["logprob"] - lp["top_logprobs"][1]["logprob"] for lp in r["logprobs"])
        results.append(dict(q, output=r["text"], correct=finished and r["text"] == q["answer"], min_margin=margin,
                            prompt_ids=r["prompt_ids"], reply_ids=ids))
    return results, summarize(results)


def summarize(results):
    def acc(rows):
        return {"n": len(rows), "accuracy": sum(r["correct"] for r in rows) / max(1, len(rows))}
    cells = {f"{op} {lang}": acc([r for r in results if r["op"] == op and r["lang"] == lang])
             for op in demo_data.OPS for lang in demo_data.LANGS}
    wrong = [f"{r['question']} -> {r['output']!r}" for r in results if not r["correct"]]
    return {"overall": acc(results), "cells": cells,
            "both_orders_unseen": acc([r for r in results if r["both_orders_unseen"]]), "wrong_examples": wrong[:12]}


def format_summary(s):
    cells = " ".join(f"[{k}] {v['accuracy']:.3f}" for k, v in s["cells"].items())
    return (f"accuracy {s['overall']['accuracy']:.4f} of {s['overall']['n']}; {cells}; both orders unseen "
            f"{s['both_orders_unseen']['accuracy']:.3f} of {s['both_orders_unseen']['n']}")


def write_ci_questions(results, path):
    """The CI question file (see the module docstring), taking questions round-robin over the
    six op/lang cells in the order they were drawn."""
    cells = {}
    for r in results:
        cells.setdefault((r["op"], r["lang"]), []).append(r)
    seen, picked = set(), []
    queues = [iter(v) for v in cells.values()]
    while len(picked) < CI_QUESTIONS and queues:
        for q in list(queues):
            r = next((r for r in q if r["correct"] and r["min_margin"] >= CI_MIN_MARGIN
                      and r["question"] not in seen), None)
            if r is None:
                queues.remove(q)
                continue
            seen.add(r["question"])
            picked.append({k: r[k] for k in ("question", "answer", "op", "lang", "a", "b", "prompt_ids", "reply_ids")}
                          | {"min_margin": round(r["min_margin"], 3)})
            if len(picked) == CI_QUESTIONS:
                break
    doc = {
        "about": "Held-out questions (operand pairs never trained on) that transformers greedy decoding answers "
                 "exactly with these bf16 weights computed in float32, each reply token winning by a logit margin "
                 f"of at least {CI_MIN_MARGIN}. Ask each as one user message with no system message: prompt_ids is "
                 "the chat template's rendering (default system prompt, add_generation_prompt). The reply must "
                 "be `answer` followed by <|im_end|>; reply_ids are its token ids, <|im_end|> last.",
        "max_new_tokens": MAX_NEW_TOKENS,
        "questions": picked,
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")
    return picked


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="models/tern-demo")
    ap.add_argument("--per-cell", type=int, default=200)
    ap.add_argument("--seed", type=int, default=102)
    ap.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
    ap.add_argument("--system", help="system prompt (default: none, so the template's default)")
    ap.add_argument("--write-questions", help="write the CI question file here")
    ap.add_argument("--json", help="write the summary and every result here")
    ap.add_argument("--tern", help="tern binary: decode with `tern generate` instead of transformers")
    ap.add_argument("--tern-args", default="", help="more `tern generate` options, e.g. \"--backend cpu\"")
    args = ap.parse_args()
    questions = demo_data.heldout_questions(random.Random(args.seed), args.per_cell)
    if args.tern:
        if args.system is not None:
            ap.error("--system is not supported with --tern (tern generate --chat sends one user message)")
        results, summary = evaluate_tern(args.tern, args.model, questions, args.tern_args)
    else:
        import torch
        results, summary = evaluate(args.model, questions, getattr(torch, args.dtype), system=args.system)
    print(format_summary(summary))
    for line in summary["wrong_examples"]:
        print("  wrong:", line)
    if args.write_questions:
        print(f"{len(write_ci_questions(results, args.write_questions))} questions written to {args.write_questions}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"summary": summary, "results": results}, f, ensure_ascii=False, indent=1)
    return 0 if summary["overall"]["accuracy"] >= 0.95 else 1


if __name__ == "__main__":
    sys.exit(main())
