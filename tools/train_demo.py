#!/usr/bin/env python3
"""Trains tern's built-in demo models, models/tern-demo and models/tern-demo-draft, in one run
on one GPU, then measures them (tools/demo_eval.py). Needs torch, transformers, tokenizers.

    PYTHONUNBUFFERED=1 python3 tools/train_demo.py --out OUT_DIR [--budget 540]

Steps, all inside --budget seconds (the device machine runs one command for at most 10 minutes):
  1. tokenizer (tools/demo_tokenizer.py): byte-level BPE, 8192 ids, trained on the standard
     library's docstrings and the template text of sample dialogues; or copied with
     --tokenizer-from DIR;
  2. data (tools/demo_data.py): dialogues rendered by transformers' apply_chat_template with
     that tokenizer_config.json (the Qwen2.5 template), tokenized; the loss covers assistant
     replies and their <|im_end|>; docstrings packed in 256-token rows are plain LM text;
  3. both models trained on the same batches (bf16 autocast, AdamW, warm-up then cosine); the
     number of steps is fixed by --steps or fitted to the budget from the first steps' speed;
     every --val-every steps each model's exact-match accuracy on validation pairs (kept out of
     training) is checked, and each model ends at its best checkpoint; the held-out accuracy
     is logged alongside but plays no part in the choice;
     --init-from DIR starts from the two models saved in DIR (a resumed run);
  4. OUT_DIR/tern-demo and OUT_DIR/tern-demo-draft written in bf16 (save_pretrained), then
     held-out accuracy measured with transformers greedy decoding, and
     OUT_DIR/tern-demo/eval_questions.json and OUT_DIR/train_summary.json written.
"""
import argparse
import itertools
import json
import math
import multiprocessing
import os
import random
import shutil
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS)
import demo_data  # noqa: E402

REPO = os.path.dirname(TOOLS)
QWEN_TOKENIZER_CONFIG = os.path.join(REPO, "tests", "data", "tokenizers", "qwen2.5", "tokenizer_config.json")

VOCAB_SIZE = 8192
MAX_POSITIONS = 2048
ROPE_THETA = 10000.0
# head_dim 64 in both: the size attention kernels handle first.
MAIN = dict(hidden_size=384, intermediate_size=1024, num_hidden_layers=7, num_attention_heads=6, num_key_value_heads=2)
DRAFT = dict(hidden_size=128, intermediate_size=384, num_hidden_layers=3, num_attention_heads=2, num_key_value_heads=1)
BUCKETS = (64, 96, 128, 192, 256)  # padded row lengths; longer dialogues are dropped
TEXT_ROW = 256
CHUNK = 8000  # dialogues per worker task

# Filled in the parent before the worker pool forks.
_WORKER = {}


def log(t0, *parts):
    print(f"[{time.time() - t0:6.1f}s]", *parts, flush=True)


def assistant_mask(ids, im_start, im_end, header):
    """Per token, 1 if it is a prediction target: the content of an assistant turn and its
    closing <|im_end|>. `header` is the ids of "assistant\\n", which always follow <|im_start|>
    in the same way because a reply never starts with whitespace. Returns (mask, replies)."""
    mask = [0] * len(ids)
    replies = 0
    h = len(header)
    i = 0
    while i < len(ids):
        if ids[i] == im_start and ids[i + 1:i + 1 + h] == header:
            replies += 1
            j = i + 1 + h
            while j < len(ids) and ids[j] != im_end:
                mask[j] = 1
                j += 1
            if j < len(ids):
                mask[j] = 1
            i = j + 1
        else:
            i += 1
    return mask, replies


def _build_chunk(task):
    """Worker: `n` dialogues from seed (seed, index) -> (flat ids, flat mask, row lengths,
    number of dialogues whose assistant replies were not all found)."""
    seed, index, n = task
    w = _WORKER
    rng = random.Random(seed * 1_000_003 + index)
    dialogues = [demo_data.make_dialogue(rng, w["pydoc"]) for _ in range(n)]
    texts = [w["hf_tok"].apply_chat_template(d, tokenize=False) for d in dialogues]
    rows = [e.ids for e in w["enc"].encode_batch(texts, add_special_tokens=False)]
    masks, mismatched = [], 0
    for d, row in zip(dialogues, rows):
        mask, replies = assistant_mask(row, w["im_start"], w["im_end"], w["header"])
        if replies != sum(m["role"] == "assistant" for m in d):
            mismatched += 1
            if mismatched == 1:
                print(f"assistant replies not all found ({replies}) in {texts[len(masks)]!r}", flush=True)
        masks.append(mask)
    lens = np.array([len(r) for r in rows], dtype=np.int32)
    total = int(lens.sum())
    flat = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.int32, count=total)
    flat_mask = np.fromiter(itertools.chain.from_iterable(masks), dtype=np.bool_, count=total)
    return flat, flat_mask, lens, mismatched


def text_rows(enc, texts, eot, seed):
    """Docstrings (shuffled, each followed by <|endoftext|>) packed into TEXT_ROW-token rows;
    every token but the first of a row is a target."""
    order = list(range(len(texts)))
    random.Random(seed).shuffle(order)
    encs = enc.encode_batch([texts[i] for i in order], add_special_tokens=False)
    stream = np.fromiter(itertools.chain.from_iterable(e.ids + [eot] for e in encs), dtype=np.int32)
    n = len(stream) // TEXT_ROW
    ids = stream[: n * TEXT_ROW].reshape(n, TEXT_ROW)
    mask = np.ones_like(ids, dtype=np.bool_)
    mask[:, 0] = False
    return ids, mask


def bucketize(flat, flat_mask, lens, pad):
    """Rows (flat arrays + lengths) -> {L: (ids [N, L] int32, mask [N, L] bool)} with each row
    in the smallest bucket that holds it, padded with `pad` (never a target). Returns also the
    number of rows longer than the largest bucket (dropped)."""
    offsets = np.concatenate([[0], np.cumsum(lens, dtype=np.int64)[:-1]])
    out, lo = {}, 0
    for size in BUCKETS:
        sel = np.nonzero((lens > lo) & (lens <= size))[0]
        ids = np.full((len(sel), size), pad, dtype=np.int32)
        mask = np.zeros((len(sel), size), dtype=np.bool_)
        for start in range(0, len(sel), 65536):
            part = sel[start:start + 65536]
            pos = offsets[part][:, None] + np.arange(size)[None, :]
            valid = np.arange(size)[None, :] < lens[part][:, None]
            pos = np.where(valid, pos, 0)
            ids[start:start + len(part)] = np.where(valid, flat[pos], pad)
            mask[start:start + len(part)] = valid & flat_mask[pos]
        out[size] = (ids, mask)
        lo = size
    return out, int((lens > BUCKETS[-1]).sum())


class Batches:
    """Endless batches of about `tokens` tokens: each epoch shuffles every bucket's rows, cuts
    them into batches of tokens // L rows and shuffles the batch order."""

    def __init__(self, buckets, tokens, device, seed):
        self.data = {L: (torch.from_numpy(ids).to(device), torch.from_numpy(mask).to(device))
                     for L, (ids, mask) in buckets.items() if len(ids)}
        self.tokens = tokens
        self.device = device
        self.gen = torch.Generator().manual_seed(seed)
        self.plan = []
        self.epoch = 0

    def _new_epoch(self):
        plan = []
        for L, (ids, _) in self.data.items():
            rows = max(1, self.tokens // L)
            perm = torch.randperm(len(ids), generator=self.gen)
            plan += [(L, perm[i:i + rows]) for i in range(0, len(perm) - rows + 1, rows)]
        order = torch.randperm(len(plan), generator=self.gen).tolist()
        self.plan = [plan[i] for i in order]
        self.epoch += 1

    def next(self):
        if not self.plan:
            self._new_epoch()
        L, idx = self.plan.pop()
        ids, mask = self.data[L]
        idx = idx.to(self.device)
        return ids[idx].long(), mask[idx]


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def lr_at(step, total, peak, warmup):
    """Linear warm-up, then cosine from peak down to a tenth of it at `total`."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (0.1 + 0.45 * (1.0 + math.cos(math.pi * progress)))


def lm_loss(model, ids, mask):
    """Cross-entropy of the tokens `mask` marks, each predicted from the ones before it.
    Only those positions go through the output projection."""
    inp, tgt, tm = ids[:, :-1], ids[:, 1:], mask[:, 1:]
    hidden = model.model(input_ids=inp, use_cache=False).last_hidden_state
    logits = model.lm_head(hidden[tm])
    return F.cross_entropy(logits.float(), tgt[tm])


def param_groups(model, weight_decay):
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]


def make_config(arch, special):
    from transformers import AutoConfig
    kw = dict(arch, vocab_size=VOCAB_SIZE, max_position_embeddings=MAX_POSITIONS, rms_norm_eps=1e-6,
              tie_word_embeddings=True, bos_token_id=None, eos_token_id=special["<|im_end|>"], pad_token_id=None,
              use_sliding_window=False)
    rope = {"rope_type": "default", "rope_theta": ROPE_THETA}
    cfg = AutoConfig.for_model("qwen2", rope_parameters=rope, **kw)
    if getattr(cfg, "rope_parameters", None) != rope:  # transformers v4
        cfg = AutoConfig.for_model("qwen2", rope_theta=ROPE_THETA, **kw)
    return cfg


def write_generation_config(model_dir, special, version):
    config = {"do_sample": False, "eos_token_id": [special["<|im_end|>"], special["<|endoftext|>"]],
              "pad_token_id": special["<|endoftext|>"], "transformers_version": version}
    with open(os.path.join(model_dir, "generation_config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")


def dir_bytes(path):
    return sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path))


def prepare_tokenizer(args, t0, docstrings, pydoc, tok_dir):
    import demo_tokenizer
    from tokenizers import Tokenizer
    if args.tokenizer_from:
        os.makedirs(tok_dir, exist_ok=True)
        for name in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copy(os.path.join(args.tokenizer_from, name), tok_dir)
        log(t0, f"tokenizer copied from {args.tokenizer_from}")
        return Tokenizer.from_file(os.path.join(tok_dir, "tokenizer.json"))
    rng = random.Random(args.seed + 17)
    corpus = list(docstrings)
    for _ in range(args.tokenizer_dialogues):
        corpus += demo_data.template_segments(demo_data.make_dialogue(rng, pydoc))
    tok = demo_tokenizer.train_tokenizer(corpus, VOCAB_SIZE)
    with open(QWEN_TOKENIZER_CONFIG, encoding="utf-8") as f:
        template = json.load(f)["chat_template"]
    demo_tokenizer.write_tokenizer(tok, tok_dir, template, MAX_POSITIONS)
    log(t0, f"tokenizer trained: {tok.get_vocab_size()} ids from {len(corpus)} texts")
    return tok


def check_tokenizers_agree(hf_tok, enc, pydoc, special, seed):
    """transformers' tokenizer (what demo_eval uses) against `tokenizers` (what training and
    tern use) on rendered dialogues; returns the number of disagreements."""
    seen = (hf_tok.eos_token_id, hf_tok.pad_token_id, hf_tok.bos_token_id)
    if seen != (special["<|im_end|>"], special["<|endoftext|>"], None):
        print(f"warning: transformers reads eos, pad, bos ids {seen}")
    rng = random.Random(seed)
    bad = 0
    for _ in range(500):
        text = hf_tok.apply_chat_template(demo_data.make_dialogue(rng, pydoc), tokenize=False)
        a = hf_tok(text, add_special_tokens=False)["input_ids"]
        b = enc.encode(text, add_special_tokens=False).ids
        if a != b or enc.decode(b, skip_special_tokens=False) != text:
            bad += 1
            if bad <= 3:
                print("tokenizer disagreement:", repr(text)[:200], a[:40], b[:40])
    return bad


def build_data(args, t0, enc, hf_tok, pydoc, docstrings, special):
    header = enc.encode("assistant\n", add_special_tokens=False).ids
    _WORKER.update(hf_tok=hf_tok, enc=enc, pydoc=pydoc, im_start=special["<|im_start|>"],
                   im_end=special["<|im_end|>"], header=header)
    tasks = [(args.seed, i, CHUNK) for i in range(math.ceil(args.dialogues / CHUNK))]
    parts = []
    deadline = t0 + args.data_seconds
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        for wave in range(0, len(tasks), args.workers):
            parts += pool.map(_build_chunk, tasks[wave:wave + args.workers])
            if time.time() > deadline and wave + args.workers < len(tasks):
                log(t0, f"data time limit reached after {len(parts)} of {len(tasks)} chunks")
                break
    flat = np.concatenate([p[0] for p in parts])
    flat_mask = np.concatenate([p[1] for p in parts])
    lens = np.concatenate([p[2] for p in parts])
    mismatched = sum(p[3] for p in parts)
    if mismatched > len(lens) // 100:
        raise RuntimeError(f"{mismatched} of {len(lens)} dialogues lost assistant replies to the mask")
    buckets, dropped = bucketize(flat, flat_mask, lens, special["<|endoftext|>"])
    chat_tokens = sum(ids.size for ids, _ in buckets.values())
    text_ids, text_mask = text_rows(enc, docstrings, special["<|endoftext|>"], args.seed)
    repeat = max(1, round(args.text_share / (1 - args.text_share) * chat_tokens / max(1, text_ids.size)))
    ids, mask = buckets[TEXT_ROW]
    buckets[TEXT_ROW] = (np.concatenate([ids] + [text_ids] * repeat), np.concatenate([mask] + [text_mask] * repeat))
    stats = {"dialogues": int(len(lens)), "mask_mismatches": int(mismatched), "dialogue_tokens": int(lens.sum()),
             "target_tokens": int(flat_mask.sum()), "dropped_long": dropped, "padded_chat_tokens": int(chat_tokens),
             "text_rows": int(len(text_ids)), "text_repeat": repeat,
             "rows_per_bucket": {L: int(len(v[0])) for L, v in buckets.items()}}
    log(t0, "data:", json.dumps(stats))
    return buckets, stats


def question_checks(hf_tok, enc, questions, special, device):
    """Questions with their expected replies as one padded batch for exact_match:
    (ids [N, L], target mask [N, L]), the single-turn chat rendering with the default system
    prompt, exactly what greedy decoding of the question must reproduce."""
    header = enc.encode("assistant\n", add_special_tokens=False).ids
    rows, masks = [], []
    for q in questions:
        text = hf_tok.apply_chat_template([{"role": "user", "content": q["question"]},
                                           {"role": "assistant", "content": q["answer"]}], tokenize=False)
        row = enc.encode(text, add_special_tokens=False).ids
        rows.append(row)
        masks.append(assistant_mask(row, special["<|im_start|>"], special["<|im_end|>"], header)[0])
    width = max(map(len, rows))
    ids = torch.full((len(rows), width), special["<|endoftext|>"], dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.bool)
    for i, (row, m) in enumerate(zip(rows, masks)):
        ids[i, :len(row)] = torch.tensor(row)
        mask[i, :len(m)] = torch.tensor(m, dtype=torch.bool)
    return ids.to(device), mask.to(device)


@torch.no_grad()
def exact_match(model, ids, mask, rows=512):
    """Per row, whether the model's top token is the expected one at every target position:
    exactly when greedy decoding would produce the expected reply."""
    out = []
    for start in range(0, len(ids), rows):
        x, m = ids[start:start + rows], mask[start:start + rows]
        with torch.autocast(ids.device.type, dtype=torch.bfloat16):
            hidden = model.model(input_ids=x[:, :-1], use_cache=False).last_hidden_state
            pred = model.lm_head(hidden).argmax(-1)
        out.append(((pred == x[:, 1:]) | ~m[:, 1:]).all(1))
    return torch.cat(out)


def train(args, t0, buckets, models, device, checks):
    batches = Batches(buckets, args.batch_tokens, device, args.seed)
    opts = []
    settings = ((args.lr, args.weight_decay), (args.draft_lr, args.draft_weight_decay))
    for (name, model), (peak, decay) in zip(models, settings):
        opts.append(torch.optim.AdamW(param_groups(model, decay), lr=peak, betas=(0.9, 0.98), eps=1e-8,
                                      fused=device.type == "cuda"))
    peaks = (args.lr, args.draft_lr)
    total = args.steps or 10**9
    train_end = t0 + args.budget - args.eval_seconds
    sums = torch.zeros(len(models), device=device)
    history, curve, count, step = [], [], 0, 0
    best = [(-1.0, 0, None) for _ in models]  # (validation accuracy, step, state) per model
    t_calib = None
    while step < total:
        ids, mask = batches.next()
        for k, ((name, model), opt) in enumerate(zip(models, opts)):
            for group in opt.param_groups:
                group["lr"] = lr_at(step, total, peaks[k], args.warmup)
            with torch.autocast(device.type, dtype=torch.bfloat16):
                loss = lm_loss(model, ids, mask)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            sums[k] += loss.detach()
        count += 1
        step += 1
        if not args.steps and step == 10:
            sync(device)
            t_calib = time.time()
        if not args.steps and step in (60, 600):  # fit the step count to the budget, then refine it
            sync(device)
            per_step = (time.time() - t_calib) / (step - 10)
            total = step + max(0, int((train_end - time.time()) / per_step))
            log(t0, f"{per_step * 1000:.1f} ms/step ({args.batch_tokens / per_step / 1e3:.0f}k tokens/s): "
                    f"training {total} steps")
        if (step >= args.val_from and step % args.val_every == 0) or step == total:
            point = {"step": step}
            for k, (name, model) in enumerate(models):
                val = exact_match(model, *checks["val"]).float().mean().item()
                test = exact_match(model, *checks["test"])
                point[name] = {"val": round(val, 4), "test": round(test.float().mean().item(), 4),
                               "test_by_op": {op: round(test[checks["test_ops"] == i].float().mean().item(), 4)
                                              for i, op in enumerate(demo_data.OPS)}}
                if val >= best[k][0]:
                    best[k] = (val, step, {n: t.detach().clone() for n, t in model.state_dict().items()})
            curve.append(point)
            log(t0, "checkpoint", json.dumps(point))
        if step % args.log_every == 0 or step == total:
            avg = (sums / count).tolist()
            history.append({"step": step, "loss": avg[0], "draft_loss": avg[1], "epoch": batches.epoch,
                            "lr": lr_at(step - 1, total, args.lr, args.warmup), "seconds": round(time.time() - t0, 1)})
            log(t0, f"step {step}/{total} epoch {batches.epoch} loss {avg[0]:.4f} draft {avg[1]:.4f}")
            sums.zero_()
            count = 0
    chosen = {}
    for (name, model), (val, at, state) in zip(models, best):
        if state is not None:
            model.load_state_dict(state)
        chosen[name] = {"step": at, "val": val}
    log(t0, f"chosen checkpoints (best validation accuracy, the later on ties): {chosen}")
    return step, history, curve, chosen


def save_model(model, path, tokenizer_dir, special):
    import transformers
    model.save_pretrained(path)
    write_generation_config(path, special, transformers.__version__)
    if os.path.abspath(path) != os.path.abspath(tokenizer_dir):
        for name in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copy(os.path.join(tokenizer_dir, name), path)


def preflight(t0, models, tokenizer_dir, special, device):
    """Saves the untrained models, loads them back with transformers and runs a small
    evaluation, so that a mistake in those steps shows before the training time is spent."""
    import demo_eval
    root = os.path.join(os.path.dirname(os.path.abspath(tokenizer_dir)), "preflight")
    questions = demo_data.heldout_questions(random.Random(0), 2)
    for name, model in models:
        path = os.path.join(root, name)
        save_model(model, path, tokenizer_dir, special)
        results, summary = demo_eval.evaluate(path, questions, torch.float32, device)
        demo_eval.write_ci_questions(results, os.path.join(path, "eval_questions.json"))
        log(t0, f"preflight {name}: {demo_eval.format_summary(summary)}; e.g. {results[0]['output']!r}")
    shutil.rmtree(root)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="writes OUT/tern-demo, OUT/tern-demo-draft, OUT/train_summary.json")
    ap.add_argument("--budget", type=float, default=540, help="seconds for the whole run")
    ap.add_argument("--eval-seconds", type=float, default=35, help="kept after training for saving and evaluation")
    ap.add_argument("--data-seconds", type=float, default=120, help="dialogue generation stops after this")
    ap.add_argument("--steps", type=int, default=0, help="training steps (0: as many as fit the budget)")
    ap.add_argument("--dialogues", type=int, default=1_200_000)
    ap.add_argument("--tokenizer-dialogues", type=int, default=100_000)
    ap.add_argument("--text-share", type=float, default=0.06, help="share of training tokens that are docstrings")
    ap.add_argument("--batch-tokens", type=int, default=65536)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--draft-lr", type=float, default=3e-3)
    ap.add_argument("--warmup", type=int, default=150)
    ap.add_argument("--weight-decay", type=float, default=0.5)
    ap.add_argument("--draft-weight-decay", type=float, default=0.2)
    ap.add_argument("--val-from", type=int, default=1000, help="first step that checks validation accuracy")
    ap.add_argument("--val-every", type=int, default=250)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    ap.add_argument("--log-every", type=int, default=250)
    ap.add_argument("--eval-per-cell", type=int, default=200)
    ap.add_argument("--tokenizer-from", help="copy tokenizer.json/tokenizer_config.json from this folder")
    ap.add_argument("--init-from", help="folder holding tern-demo/ and tern-demo-draft/ to start from")
    ap.add_argument("--stdlib", help="Python standard library folder (default: this Python's)")
    args = ap.parse_args()
    if args.init_from and not args.tokenizer_from:
        args.tokenizer_from = os.path.join(args.init_from, "tern-demo")  # the weights' own tokenizer
    t0 = time.time()

    import sysconfig
    import transformers
    from transformers import AutoModelForCausalLM
    import demo_eval

    stdlib = args.stdlib or sysconfig.get_paths()["stdlib"]
    docstrings, pydoc = demo_data.collect_docstrings(stdlib)
    log(t0, f"{len(docstrings)} docstrings ({sum(map(len, docstrings))} chars), {len(pydoc)} pydoc items from "
            f"{stdlib} (Python {sys.version.split()[0]})")

    main_dir, draft_dir = os.path.join(args.out, "tern-demo"), os.path.join(args.out, "tern-demo-draft")
    enc = prepare_tokenizer(args, t0, docstrings, pydoc, main_dir)
    special = {t: enc.token_to_id(t) for t in ("<|endoftext|>", "<|im_start|>", "<|im_end|>")}
    assert enc.get_vocab_size() <= VOCAB_SIZE, enc.get_vocab_size()
    hf_tok = demo_eval.load_tokenizer(main_dir)
    disagreements = check_tokenizers_agree(hf_tok, enc, pydoc, special, args.seed + 29)
    log(t0, f"special ids {special}; transformers/tokenizers disagreements: {disagreements} of 500")

    buckets, data_stats = build_data(args, t0, enc, hf_tok, pydoc, docstrings, special)

    device = torch.device("cuda")
    torch.manual_seed(args.seed)
    torch.backends.cuda.matmul.allow_tf32 = True
    models = []
    for name, arch, src in (("tern-demo", MAIN, "tern-demo"), ("tern-demo-draft", DRAFT, "tern-demo-draft")):
        if args.init_from:
            model = AutoModelForCausalLM.from_pretrained(os.path.join(args.init_from, src), dtype=torch.float32,
                                                         attn_implementation="sdpa")
        else:
            model = AutoModelForCausalLM.from_config(make_config(arch, special), attn_implementation="sdpa")
        model = model.float().to(device).train()
        assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr(), "embeddings not tied"
        models.append((name, model))
    params = {name: sum(p.numel() for p in m.parameters()) for name, m in models}
    log(t0, f"parameters: {params}")

    preflight(t0, models, main_dir, special, device)

    checks = {}
    for part, seed in (("val", args.seed + 202), ("test", args.seed + 101)):
        qs = demo_data.heldout_questions(random.Random(seed), args.eval_per_cell, part)
        checks[part] = question_checks(hf_tok, enc, qs, special, device)
        if part == "test":
            checks["test_ops"] = torch.tensor([demo_data.OPS.index(q["op"]) for q in qs], device=device)

    t_train = time.time()
    steps, history, curve, chosen = train(args, t0, buckets, models, device, checks)
    train_seconds = time.time() - t_train

    version = transformers.__version__
    for (name, model), path in zip(models, (main_dir, draft_dir)):
        save_model(model.to(torch.bfloat16), path, main_dir, special)
    del models
    torch.cuda.empty_cache()
    log(t0, f"saved after {steps} steps, {train_seconds:.0f} s of training")

    summary = {"python": sys.version.split()[0], "torch": torch.__version__, "transformers": version,
               "tokenizers": __import__("tokenizers").__version__, "gpu": torch.cuda.get_device_name(device),
               "args": vars(args), "parameters": params, "steps": steps, "train_seconds": round(train_seconds, 1),
               "final": history[-1] if history else None, "chosen": chosen, "history": history, "curve": curve,
               "data": data_stats,
               "tokenizer_disagreements": disagreements,
               "disk_bytes": {"tern-demo": dir_bytes(main_dir), "tern-demo-draft": dir_bytes(draft_dir)}}
    summary_path = os.path.join(args.out, "train_summary.json")
    with open(summary_path, "w") as f:
        json.dump(summary, f, indent=1)
    print("SUMMARY", json.dumps({k: summary[k] for k in ("parameters", "steps", "train_seconds", "final", "chosen",
                                                          "disk_bytes", "tokenizer_disagreements")}), flush=True)

    questions = demo_data.heldout_questions(random.Random(args.seed + 101), args.eval_per_cell)
    summary["eval"] = {}
    for label, path, dtype in (("main_fp32", main_dir, torch.float32), ("main_bf16", main_dir, torch.bfloat16),
                               ("draft_fp32", draft_dir, torch.float32)):
        results, result = demo_eval.evaluate(path, questions, dtype, device)
        summary["eval"][label] = result
        log(t0, f"{label}: " + demo_eval.format_summary(result))
        if label == "main_fp32":
            picked = demo_eval.write_ci_questions(results, os.path.join(main_dir, "eval_questions.json"))
            log(t0, f"{len(picked)} CI questions written")
        summary["total_seconds"] = round(time.time() - t0, 1)
        with open(summary_path, "w") as f:
            json.dump(summary, f, indent=1)
    for label, result in summary["eval"].items():
        print("SUMMARY", label, demo_eval.format_summary(result))
        for line in result["wrong_examples"][:6]:
            print("  wrong:", line)
    print(f"SUMMARY total {summary['total_seconds']} s")


if __name__ == "__main__":
    main()
