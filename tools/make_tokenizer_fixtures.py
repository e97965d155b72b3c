#!/usr/bin/env python3
"""Golden tokenizer fixtures from Hugging Face `tokenizers` (run on the machine that has it).

    python3 tools/make_tokenizer_fixtures.py --out tests/data

Writes
  OUT/tokenizers/tiny-qwen/     trained here: Qwen2 Split regex + ByteLevel, NFC, ChatML specials,
                                extra added tokens exercising lstrip / rstrip / single_word /
                                normalized; merges as ["a", "b"] pairs
  OUT/tokenizers/tiny-llama3/   trained here: Llama-3 Split regex, no normaliser, ignore_merges,
                                TemplateProcessing adding <|begin_of_text|>; merges as "a b" strings
  OUT/tokenizers/tiny-gpt2/     trained here: bare ByteLevel pre-tokenizer (GPT-2 regex,
                                add_prefix_space), Sequence normaliser
  OUT/tokenizer/golden_<name>.json for those three and for the committed qwen2.5 tokenizer:
    {"tokenizer": "tokenizers/<name>",
     "cases": [{"text", "ids", "ids_no_special", "decoded", "decoded_skip_special"}],
     "decode_cases": [{"ids", "decoded", "decoded_skip_special"}]}
  "ids" is HF `tokenizer(text)` (add_special_tokens=True); "decoded*" is
  `tokenizer.decode(ids, skip_special_tokens=...)` of the `tokenizers` library.

Deterministic: the training corpus is texts.json plus sentences drawn with a fixed seed.
"""
import argparse
import json
import os
import random
import shutil
import sys

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
import transformers

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEXTS = os.path.join(REPO, "tests", "data", "tokenizer", "texts.json")
QWEN_DIR = os.path.join(REPO, "tests", "data", "tokenizers", "qwen2.5")

QWEN2_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")
LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")

CHATML_TEMPLATE = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content']"
                   " + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}"
                   "{{ '<|im_start|>assistant\\n' }}{% endif %}")
LLAMA3_TEMPLATE = ("{% set loop_messages = messages %}{% for message in loop_messages %}"
                   "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
                   " + message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
                   "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
                   "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
                   "{% endif %}")

WORDS = ("the of and to in is was for that with as on by at from his her they we you it this which be are "
         "model token server request batch cache kernel memory layer attention query key value decode prefill "
         "stream schedule block page GPU CUDA tensor matrix vector weight bias norm rotary embedding logits "
         "sample temperature top probability language English Chinese code function return class struct int "
         "float double const auto template typename namespace include define if else while for break "
         "can't won't it's they're we've I'll he'd she's don't isn't HELLO World Tokenizer BPE merge rank "
         "我们 你们 他们 模型 推理 服务器 请求 缓存 注意力 语言 中文 英文 代码 数据 训练 今天 明天 "
         "日本語 テキスト ひらがな 한국어 텍스트 мир текст ضوء نص नमस्ते पाठ café naïve résumé "
         "0 1 2 3 42 100 2024 3.14 1,000 65536 😀 👍🏽 🚀 ✨").split()
PUNCT = [".", ",", "!", "?", ";", ":", " -", " (", ")", "\n", "\n\n", "\t", "  ", '"', "'", "{", "}", "[", "]"]


def training_corpus(texts):
    rng = random.Random(20240601)
    lines = list(texts)
    for _ in range(3000):
        n = rng.randint(3, 25)
        parts = []
        for _ in range(n):
            parts.append(rng.choice(WORDS))
            parts.append(rng.choice(PUNCT) if rng.random() < 0.2 else " ")
        lines.append("".join(parts))
    return lines


def train(corpus, vocab_size, normalizer, pre_tokenizer):
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizer
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(corpus, trainer)
    return tok


def split_then_bytelevel(regex):
    return pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(regex), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])


def make_tiny_qwen(corpus):
    tok = train(corpus, 1000, normalizers.NFC(), split_then_bytelevel(QWEN2_REGEX))
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False)
                            for t in ("<|endoftext|>", "<|im_start|>", "<|im_end|>")])
    tok.add_special_tokens([AddedToken("[MASK]", lstrip=True, rstrip=False, special=True, normalized=False)])
    tok.add_tokens([
        AddedToken("<sep>", rstrip=True, special=False, normalized=False),
        AddedToken("word", single_word=True, special=False, normalized=False),
        AddedToken("café", special=False, normalized=True),
        AddedToken("<tool_call>", special=False, normalized=False),
        AddedToken("</tool_call>", special=False, normalized=False),
    ])
    config = {"bos_token": None, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>",
              "chat_template": CHATML_TEMPLATE}
    return tok, config, "pairs", False


def make_tiny_llama3(corpus):
    tok = train(corpus, 1000, None, split_then_bytelevel(LLAMA3_REGEX))
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in specials])
    bos_id = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B:1",
                                      special_tokens=[("<|begin_of_text|>", bos_id)]),
    ])
    config = {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>", "chat_template": LLAMA3_TEMPLATE}
    return tok, config, "strings", True


def make_tiny_gpt2(corpus):
    tok = train(corpus, 600, normalizers.Sequence([normalizers.NFC()]),
                pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True))
    tok.post_processor = processors.ByteLevel(trim_offsets=True)
    tok.add_special_tokens([AddedToken("<|endoftext|>", special=True, normalized=False)])
    config = {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "chat_template": CHATML_TEMPLATE}
    return tok, config, "strings", False


def write_tokenizer_dir(tok, config, merges_format, ignore_merges, out_dir):
    """Saves through transformers (tokenizer_config.json; newer versions put the chat template in
    chat_template.jinja), then rewrites the merges in the requested format so both formats are
    covered by the fixtures."""
    os.makedirs(out_dir, exist_ok=True)
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=config["bos_token"],
                                                eos_token=config["eos_token"], pad_token=config.get("pad_token"),
                                                clean_up_tokenization_spaces=False)
    fast.chat_template = config["chat_template"]
    fast.save_pretrained(out_dir)
    for extra in os.listdir(out_dir):
        if extra not in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
            os.remove(os.path.join(out_dir, extra))
    path = os.path.join(out_dir, "tokenizer.json")
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    merges = [m.split(" ") if isinstance(m, str) else m for m in data["model"]["merges"]]
    assert all(len(m) == 2 for m in merges)
    data["model"]["merges"] = merges if merges_format == "pairs" else [" ".join(m) for m in merges]
    data["model"]["ignore_merges"] = ignore_merges
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, indent=2)


def golden(name, tok_dir, texts, rng):
    tok = Tokenizer.from_file(os.path.join(tok_dir, "tokenizer.json"))
    hf = transformers.AutoTokenizer.from_pretrained(tok_dir)
    cases = []
    for text in texts:
        ids = tok.encode(text, add_special_tokens=True).ids
        ids_no_special = tok.encode(text, add_special_tokens=False).ids
        hf_ids = hf(text)["input_ids"]
        if hf_ids != ids:
            print(f"warning: {name}: transformers and tokenizers disagree on {text!r}", file=sys.stderr)
        decoded = tok.decode(ids, skip_special_tokens=False)
        if hf.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False) != decoded:
            print(f"warning: {name}: transformers decode differs on {text!r}", file=sys.stderr)
        cases.append({"text": text, "ids": ids, "ids_no_special": ids_no_special, "decoded": decoded,
                      "decoded_skip_special": tok.decode(ids, skip_special_tokens=True)})
    size = tok.get_vocab_size(with_added_tokens=True)
    special_ids = [i for i, t in tok.get_added_tokens_decoder().items() if t.special]
    id_arrays = [[], [size], [size + 5, 0, size * 3]]
    for length in (1, 2, 3, 5, 8, 13, 40, 200):
        id_arrays.append([rng.randrange(size) for _ in range(length)])
        # Mostly-byte tokens split multibyte characters; specials interleaved; some ids out of range.
        id_arrays.append([rng.randrange(256) if rng.random() < 0.7 else rng.choice(special_ids)
                          for _ in range(length)])
        id_arrays.append([rng.randrange(size + 20) for _ in range(length)])
    cjk = tok.encode("你好，世界！日本語 😀👍🏽 한국어", add_special_tokens=False).ids
    id_arrays += [cjk[1:], cjk[:-1], cjk[::2], cjk[::-1]]
    decode_cases = [{"ids": ids, "decoded": tok.decode(ids, skip_special_tokens=False),
                     "decoded_skip_special": tok.decode(ids, skip_special_tokens=True)} for ids in id_arrays]
    return {"tokenizer": f"tokenizers/{name}", "cases": cases, "decode_cases": decode_cases}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="output root, normally tests/data")
    args = parser.parse_args()
    with open(TEXTS, encoding="utf-8") as f:
        texts = json.load(f)
    corpus = training_corpus(texts)

    tok_root = os.path.join(args.out, "tokenizers")
    dirs = {}
    for name, make in (("tiny-qwen", make_tiny_qwen), ("tiny-llama3", make_tiny_llama3),
                       ("tiny-gpt2", make_tiny_gpt2)):
        out_dir = os.path.join(tok_root, name)
        write_tokenizer_dir(*make(corpus), out_dir)
        dirs[name] = out_dir
    qwen_out = os.path.join(tok_root, "qwen2.5")
    if os.path.abspath(qwen_out) != os.path.abspath(QWEN_DIR):
        shutil.copytree(QWEN_DIR, qwen_out, dirs_exist_ok=True)
    dirs["qwen2.5"] = qwen_out

    golden_dir = os.path.join(args.out, "tokenizer")
    os.makedirs(golden_dir, exist_ok=True)
    for i, (name, tok_dir) in enumerate(sorted(dirs.items())):
        data = golden(name, tok_dir, texts, random.Random(1000 + i))
        path = os.path.join(golden_dir, f"golden_{name}.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, indent=1)
        print(f"wrote {path}: {len(data['cases'])} cases, {len(data['decode_cases'])} decode cases")
    print(f"tokenizers {__import__('tokenizers').__version__}, transformers {transformers.__version__}")


if __name__ == "__main__":
    main()
