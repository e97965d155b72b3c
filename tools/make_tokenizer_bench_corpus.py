#!/usr/bin/env python3
"""Writes tests/data/tokenizer/bench_corpus.txt, the mixed text that bench/tokenizer_bench.cpp
and tools/bench_hf_tokenizer.py both encode (about 400 KB: English, Chinese, C++ code).

English and Chinese paragraphs are drawn, with a fixed seed and Zipf-like word frequencies, from
the words of the Qwen2.5 vocabulary (in id order, which roughly follows frequency); the code is
tern's own tokenizer sources. The committed file is the reference: re-running after the sources
change gives a different corpus, and timings are then no longer comparable with older results.
"""
import json
import os
import random
import re

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QWEN = os.path.join(REPO, "tests", "data", "tokenizers", "qwen2.5", "tokenizer.json")
OUT = os.path.join(REPO, "tests", "data", "tokenizer", "bench_corpus.txt")
SHORT_WORDS = "of|to|in|is|it|on|as|at|by|be|we|he|or|an|my|so|no|do|up|if|me|us"
TARGET_BYTES = {"english": 200_000, "chinese": 100_000, "code": 100_000}


def byte_decoder():
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    chars = list(printable)
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, chars)}


def vocabulary_words():
    with open(QWEN, encoding="utf-8") as f:
        vocab = json.load(f)["model"]["vocab"]
    decoder = byte_decoder()
    english, chinese = [], []
    for token, _ in sorted(vocab.items(), key=lambda item: item[1]):
        try:
            text = bytes(decoder[c] for c in token).decode("utf-8")
        except (KeyError, UnicodeDecodeError):
            continue
        if re.fullmatch(r" ([a-z]{3,}|" + SHORT_WORDS + ")", text) and len(english) < 4000:
            english.append(text.strip())
        elif re.fullmatch(r"[\u4e00-\u9fff]{2,4}", text) and len(chinese) < 3000:
            chinese.append(text)
    return english, chinese


def zipf_choice(rng, words):
    # Rank r is drawn with probability ~ 1/r.
    return words[min(int(len(words) ** rng.random()) - 1, len(words) - 1)]


def english_paragraph(rng, words):
    sentences = []
    for _ in range(rng.randint(3, 7)):
        sentence = [zipf_choice(rng, words) for _ in range(rng.randint(6, 20))]
        sentence[0] = sentence[0].capitalize()
        if rng.random() < 0.3:
            sentence.insert(rng.randint(1, len(sentence) - 1), str(rng.randint(1, 99999)))
        if rng.random() < 0.2:
            sentence[rng.randint(0, len(sentence) - 1)] += ","
        sentences.append(" ".join(sentence) + rng.choice([".", ".", ".", "?", "!"]))
    return " ".join(sentences) + "\n\n"


def chinese_paragraph(rng, words):
    sentences = []
    for _ in range(rng.randint(2, 5)):
        clauses = ["".join(zipf_choice(rng, words) for _ in range(rng.randint(2, 6))) for _ in range(rng.randint(1, 3))]
        sentences.append("，".join(clauses) + rng.choice(["。", "。", "！", "？"]))
    return "".join(sentences) + "\n\n"


def code_text():
    paths = []
    for folder, pattern in (("src/tokenizer", r"(?!jinja|chat_template).*\.(h|cpp)"),
                            ("tests/unit", r"tokenizer_.*\.(h|cpp)")):
        for name in sorted(os.listdir(os.path.join(REPO, folder))):
            if re.fullmatch(pattern, name):
                paths.append(os.path.join(REPO, folder, name))
    text = ""
    for path in paths:
        with open(path, encoding="utf-8") as f:
            text += f.read() + "\n"
    return text


def main():
    rng = random.Random(1234)
    english, chinese = vocabulary_words()
    code = code_text()[: TARGET_BYTES["code"]]
    code_chunks = [code[i:i + 2000] for i in range(0, len(code), 2000)]
    written = {"english": 0, "chinese": 0, "code": 0}
    parts = []
    while any(written[k] < TARGET_BYTES[k] for k in written):
        for kind, make in (("english", lambda: english_paragraph(rng, english)),
                           ("chinese", lambda: chinese_paragraph(rng, chinese)),
                           ("code", lambda: code_chunks.pop(0) + "\n\n" if code_chunks else "")):
            if written[kind] < TARGET_BYTES[kind]:
                piece = make()
                if not piece:
                    written[kind] = TARGET_BYTES[kind]
                    continue
                parts.append(piece)
                written[kind] += len(piece.encode("utf-8"))
    with open(OUT, "w", encoding="utf-8", newline="\n") as f:
        f.write("".join(parts))
    print(f"wrote {OUT}: {sum(written.values())} bytes ({written})")


if __name__ == "__main__":
    main()
