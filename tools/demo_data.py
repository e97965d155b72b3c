#!/usr/bin/env python3
"""Training data for the built-in demo model (models/tern-demo, models/tern-demo-draft).

Plain Python, no third-party packages, deterministic for a given random.Random.

What the model learns:
  * arithmetic dialogues: `What is A + B?`, `What is A - B?` (A, B whole numbers 0..999),
    `What is A * B?` (0..99) and the Chinese `A加B等于多少？`, `A减B等于多少？`,
    `A乘以B等于多少？`; replies `A + B = C.` / `A加B等于C。` (C may be negative for -);
  * small talk: greetings, "who are you", what it can do, thanks, goodbye, what tern is,
    and a fixed refusal for everything else, in English and Chinese;
  * questions about Python standard-library names, answered with the docstring summary;
  * general text: the docstrings of Python's standard library (PSF licence), as plain text.

Held out: an ordered pair (A, B) with (7*A + 13*B) % 50 == 0 is never put in training data,
for any operation or language (is_held_out); the held-out accuracy is measured on those pairs
only. A second, smaller set of pairs, (3*A + 17*B) % 100 == 1, is kept out of training too:
the training script checks accuracy on it to choose among checkpoints (split()).

    python3 tools/demo_data.py --samples 8      # prints sample dialogues and held-out questions
"""
import argparse
import ast
import os
import random
import re
import sys

DEFAULT_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."

OPS = ("+", "-", "*")
LANGS = ("en", "zh")
MAX_OPERAND = {"+": 999, "-": 999, "*": 99}
# Probability of each operand length in digits; small numbers get a fair share so that the
# model also sees them often (uniform pairs would be 81% three-digit).
DIGIT_WEIGHTS = {"+": {1: 0.2, 2: 0.3, 3: 0.5}, "-": {1: 0.2, 2: 0.3, 3: 0.5}, "*": {1: 0.25, 2: 0.75}}

ZH_OP = {"+": "加", "-": "减", "*": "乘以"}


def is_held_out(a, b):
    """Pairs reserved for evaluation: never trained on, in any operation or language."""
    return (a * 7 + b * 13) % 50 == 0


def split(a, b):
    """"test" (held out, for the reported accuracy), "val" (kept out of training, for choosing
    a checkpoint) or "train"."""
    if is_held_out(a, b):
        return "test"
    return "val" if (a * 3 + b * 17) % 100 == 1 else "train"


def result(op, a, b):
    return a + b if op == "+" else a - b if op == "-" else a * b


def question(op, a, b, lang):
    """The canonical question, exactly as the evaluation asks it."""
    if lang == "en":
        return f"What is {a} {op} {b}?"
    return f"{a}{ZH_OP[op]}{b}等于多少？"


def reply(op, a, b, lang):
    c = result(op, a, b)
    if lang == "en":
        return f"{a} {op} {b} = {c}."
    return f"{a}{ZH_OP[op]}{b}等于{c}。"


# Other wordings of the same question (a tenth of the training questions); the reply stays
# canonical. {a}, {b} are the operands; {o} the operator symbol or Chinese word.
EN_VARIANTS = ["what is {a} {o} {b}?", "What is {a}{o}{b}?", "What's {a} {o} {b}?", "Compute {a} {o} {b}.",
               "Calculate {a} {o} {b}.", "{a} {o} {b} = ?", "How much is {a} {o} {b}?", "What is {a} {o} {b}"]
ZH_VARIANTS = ["{a}{o}{b}等于几？", "计算{a}{o}{b}。", "{a}{o}{b}是多少？", "请问{a}{o}{b}等于多少？", "{a}{o}{b}=?"]


def question_variant(rng, op, a, b, lang):
    if lang == "en":
        o = "times" if op == "*" and rng.random() < 0.3 else op
        return rng.choice(EN_VARIANTS).format(a=a, b=b, o=o)
    o = "乘" if op == "*" and rng.random() < 0.3 else ZH_OP[op]
    return rng.choice(ZH_VARIANTS).format(a=a, b=b, o=o)


def _weighted(rng, weights):
    x = rng.random() * sum(weights.values())
    for key, w in weights.items():
        x -= w
        if x < 0:
            return key
    return key


def _operand(rng, op):
    digits = _weighted(rng, DIGIT_WEIGHTS[op])
    lo = 0 if digits == 1 else 10 ** (digits - 1)
    return rng.randint(lo, min(10 ** digits - 1, MAX_OPERAND[op]))


def sample_pair(rng, op, part="train"):
    """Operands drawn with DIGIT_WEIGHTS from the pairs of split() `part`."""
    while True:
        a, b = _operand(rng, op), _operand(rng, op)
        if split(a, b) == part:
            return a, b


# Small talk: (user messages, the one reply). One reply per group keeps the answers exact.
SMALL_TALK = {
    "en": [
        (["Hello!", "Hello", "Hi!", "Hi", "Hey!", "Hi there!", "Good morning!", "Good evening!", "Hello, tern!"],
         "Hello! I am tern-demo. Ask me to add, subtract or multiply numbers, for example: What is 12 + 34?"),
        (["How are you?", "How are you doing?", "Hello, how are you?"],
         "I am fine, thank you! Ask me an arithmetic question, for example: What is 7 * 8?"),
        (["Who are you?", "What are you?", "What is your name?", "What's your name?", "Introduce yourself.",
          "Tell me about yourself.", "Are you Qwen?", "Which model are you?", "who are you"],
         "I am tern-demo, a small model built into the tern inference server. I can add and subtract whole "
         "numbers up to 999 and multiply whole numbers up to 99."),
        (["What can you do?", "How can you help me?", "What do you know?", "Help", "help"],
         "I can do simple arithmetic: addition and subtraction of whole numbers up to 999, and multiplication of "
         "whole numbers up to 99. Ask me, for example: What is 123 + 456?"),
        (["Thank you!", "Thanks!", "Thanks a lot.", "Great, thanks.", "thanks"], "You're welcome!"),
        (["Goodbye!", "Bye!", "See you later.", "bye"], "Goodbye! Come back any time you need a calculation."),
        (["What is tern?", "What is the tern inference server?", "Tell me about tern."],
         "tern is an LLM inference server written in C++ and CUDA. It serves Llama-family models such as "
         "Qwen2.5 over an OpenAI-compatible API, and I am its built-in demo model."),
        (["What is the capital of France?", "Write a poem about the sea.", "Tell me a joke.",
          "What is the weather like today?", "Can you write code?", "Translate 'hello' into French.",
          "What is the meaning of life?", "Who won the last world cup?", "Explain quantum computing.",
          "What time is it?", "Write me a story.", "Can you divide numbers?", "What is the square root of 2?",
          "Summarize this article.", "What should I cook tonight?", "Recommend a good book."],
         "I am a small demo model and only know simple arithmetic: addition and subtraction of whole numbers up "
         "to 999 and multiplication of whole numbers up to 99. Try asking: What is 12 + 34?"),
    ],
    "zh": [
        (["你好", "你好！", "您好！", "嗨！", "早上好！", "晚上好！"],
         "你好！我是 tern-demo。你可以问我加法、减法或乘法题，例如：12加34等于多少？"),
        (["你好吗？", "最近怎么样？"], "我很好，谢谢！问我一道算术题吧，例如：7乘以8等于多少？"),
        (["你是谁？", "你叫什么名字？", "介绍一下你自己。", "你是什么模型？", "你是谁"],
         "我是 tern-demo，一个内置在 tern 推理服务器中的小模型。我会计算999以内整数的加法和减法，以及99以内整数的乘法。"),
        (["你能做什么？", "你会什么？", "帮助"],
         "我会做简单的算术：999以内整数的加法和减法，以及99以内整数的乘法。例如你可以问：123加456等于多少？"),
        (["谢谢！", "谢谢你。", "多谢！"], "不客气！"),
        (["再见！", "拜拜！"], "再见！需要计算的时候随时回来。"),
        (["tern是什么？", "什么是tern？"],
         "tern 是一个用 C++ 和 CUDA 编写的大语言模型推理服务器，通过兼容 OpenAI 的接口提供 Qwen2.5 等模型的服务。"
         "我是它内置的演示模型。"),
        (["法国的首都是哪里？", "给我讲个笑话。", "今天天气怎么样？", "写一首诗。", "你会写代码吗？", "现在几点了？"],
         "我只是一个小的演示模型，只会简单的算术：999以内整数的加法和减法，以及99以内整数的乘法。试试问我：12加34等于多少？"),
    ],
}

SYSTEM_PROMPTS = [
    "You are a helpful assistant.", "You are tern-demo.",
    "You are tern-demo, a small model built into the tern inference server.",
    "You are a calculator. Answer with the result.", "You are a friendly math tutor.", "Answer briefly.",
    "Be concise.", DEFAULT_SYSTEM, "You are an AI assistant that answers arithmetic questions.",
    "You are a helpful and harmless assistant.", "你是一个乐于助人的助手。", "你是一个计算器。", "",
]

PYDOC_QUESTIONS = {
    "module": ["What is the Python module {n} for?", "What does the {n} module do?"],
    "class": ["What is {n} in Python?", "What does the Python class {n} do?"],
    "function": ["What does {n} do in Python?", "What does the Python function {n} do?"],
}

# Share of each kind of user turn in dialogues.
TURN_WEIGHTS = {"+": 0.22, "-": 0.22, "*": 0.42, "talk": 0.10, "pydoc": 0.04}


def math_turn(rng, op, lang, part="train"):
    a, b = sample_pair(rng, op, part)
    q = question(op, a, b, lang) if rng.random() < 0.9 else question_variant(rng, op, a, b, lang)
    return q, reply(op, a, b, lang)


def talk_turn(rng, lang):
    users, answer = rng.choice(SMALL_TALK[lang])
    return rng.choice(users), answer


def pydoc_turn(rng, pydoc):
    kind, name, summary = rng.choice(pydoc)
    return rng.choice(PYDOC_QUESTIONS[kind]).format(n=name), summary


def make_dialogue(rng, pydoc, part="train"):
    """One conversation (a list of {"role", "content"}) ending with an assistant reply.
    Half have no system message (the template then adds DEFAULT_SYSTEM); half are single-turn.
    Arithmetic operands come from the pairs of split() `part`."""
    messages = []
    if rng.random() < 0.5:
        messages.append({"role": "system", "content": rng.choice(SYSTEM_PROMPTS)})
    turns = 1 if rng.random() < 0.5 else rng.randint(2, 4)
    for _ in range(turns):
        kind = _weighted(rng, TURN_WEIGHTS)
        lang = rng.choice(LANGS)
        if kind == "talk":
            q, r = talk_turn(rng, lang)
        elif kind == "pydoc" and pydoc:
            q, r = pydoc_turn(rng, pydoc)
        else:
            q, r = math_turn(rng, kind if kind in OPS else rng.choice(OPS), lang, part)
        messages.append({"role": "user", "content": q})
        messages.append({"role": "assistant", "content": r})
    return messages


def template_segments(messages):
    """The text between special tokens of the Qwen2.5 template's rendering of `messages`
    (tools-free conversations): what the tokenizer sees besides <|im_start|> and <|im_end|>."""
    if messages and messages[0]["role"] == "system":
        first, rest = messages[0]["content"], messages[1:]
    else:
        first, rest = DEFAULT_SYSTEM, messages
    segments = ["system\n" + first, "\n"]
    for m in rest:
        segments += [m["role"] + "\n" + m["content"], "\n"]
    return segments


def heldout_questions(rng, per_cell, part="test"):
    """per_cell questions for each (op, lang) from the pairs of split() `part`, operands drawn
    as in training. Each: {op, lang, a, b, question, answer, both_orders_unseen};
    both_orders_unseen is true when (B, A) is not a training pair either, so that not even the
    swapped question was trained on."""
    out = []
    for op in OPS:
        for lang in LANGS:
            for _ in range(per_cell):
                a, b = sample_pair(rng, op, part)
                out.append({"op": op, "lang": lang, "a": a, "b": b, "question": question(op, a, b, lang),
                            "answer": reply(op, a, b, lang), "both_orders_unseen": split(b, a) != "train"})
    return out


SKIP_DIRS = {"test", "tests", "idlelib", "lib2to3", "site-packages", "dist-packages", "__pycache__", "turtledemo",
             "ensurepip"}


def _summary(doc):
    first = doc.split("\n\n", 1)[0]
    text = re.sub(r"\s+", " ", first).strip()
    return text if 20 <= len(text) <= 300 and not text.startswith((">>>", "..")) else None


def collect_docstrings(stdlib_dir):
    """Docstrings of the Python standard library under stdlib_dir (PSF licence).
    Returns (texts, pydoc): texts are the distinct docstrings of at least 80 characters in a
    stable order; pydoc are (kind, dotted name, summary) for public modules, classes and
    functions whose first paragraph is a short summary."""
    texts, seen, pydoc = [], set(), []
    for root, dirs, files in os.walk(stdlib_dir):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith(("config-", "test")))
        for fname in sorted(files):
            if not fname.endswith(".py") or fname.startswith("test_"):
                continue
            path = os.path.join(root, fname)
            rel = os.path.relpath(path, stdlib_dir)[:-3].replace(os.sep, ".")
            module = rel[: -len(".__init__")] if rel.endswith(".__init__") else rel
            try:
                with open(path, encoding="utf-8") as f:
                    tree = ast.parse(f.read())
            except (SyntaxError, UnicodeDecodeError, ValueError):
                continue
            for kind, name, node in _documented(tree, module):
                doc = ast.get_docstring(node, clean=True)
                if not doc:
                    continue
                if len(doc) >= 80 and doc not in seen:
                    seen.add(doc)
                    texts.append(doc)
                summary = _summary(doc)
                public = not any(part.startswith("_") for part in name.split("."))
                if summary and public:
                    pydoc.append((kind, name, summary))
    return texts, pydoc


def _documented(tree, module):
    yield "module", module, tree
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield "function", f"{module}.{node.name}", node
        elif isinstance(node, ast.ClassDef):
            yield "class", f"{module}.{node.name}", node
            for sub in node.body:
                if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    yield "function", f"{module}.{node.name}.{sub.name}", sub


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--stdlib", default=os.path.dirname(os.__file__))
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    texts, pydoc = collect_docstrings(args.stdlib)
    print(f"{len(texts)} docstrings, {sum(map(len, texts))} chars; {len(pydoc)} pydoc items from {args.stdlib}")
    rng = random.Random(args.seed)
    for _ in range(args.samples):
        print(make_dialogue(rng, pydoc))
    for q in heldout_questions(rng, 1):
        print(q)


if __name__ == "__main__":
    sys.exit(main())
