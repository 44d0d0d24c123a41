#!/usr/bin/python3
"""Fixture for intactkv.prefix.ShareGptSelection / VicunaConversation: the official ShareGPT
calibration selection and formatting (utils/sharegpt.py: preprocess, make_sharegpt_data_module)
applied in plain Python over token ids, with a toy whitespace tokenizer that the Java test
implements the same way, on conversations generated here from a made-up word list.

What the official code does, and this script therefore does (written from reading it, no code
taken over; fastchat, transformers and torch are not needed):
  - random.seed(42); random.shuffle(the list of records) (the global `random` module);
  - take records in that order while fewer than n are kept; keep a record when its formatted
    sequence, cut to max_seq_len, has more than 50 assistant tokens;
  - formatting: turns before the first "human" turn dropped; roles alternate after it; turn j
    becomes one message: the Vicuna v1.1 system prompt + " " before the first, then
    "USER: <value> ASSISTANT:" for human turns and the value alone for gpt turns (nothing for an
    empty value); every message tokenized on its own without special tokens and cut to
    max_message tokens; [BOS] once in front; the assistant positions are those of the gpt
    messages' tokens; a sequence of >= max_seq_len tokens is cut to max_seq_len and the
    assistant positions below it kept.

Toy tokenizer (both sides): a message's tokens are its whitespace-separated words (str.split()),
each word's id = 3 + (sum of its code points) % 997; [BOS] = 1. Only ASCII spaces and newlines
separate words in the generated text.

Run: /usr/bin/python3 tools/oracle/sharegpt_selection_fixture.py intactkv-core/src/test/resources/oracle/sharegpt
Writes sharegpt_toy.json (the ShareGPT file, a JSON array as the official one) and
sharegpt_selection.json (settings and the expected selection).
"""
import json
import os
import random
import sys

# FastChat 0.2.34 get_conversation_template("vicuna") = vicuna_v1.1: system message, roles, sep " "
SYSTEM = ("A chat between a curious user and an artificial intelligence assistant. "
          "The assistant gives helpful, detailed, and polite answers to the user's questions.")
ROLES = {"human": "USER", "gpt": "ASSISTANT"}
BOS = 1

N_SAMPLES = 8
MAX_SEQ_LEN = 150
MAX_MESSAGE = 45
MIN_GPT_LEN = 50
SEED = 42

WORDS = ["tea", "kettle", "river", "stone", "quiet", "lamp", "orbit", "maple", "seven", "copper",
         "window", "garden", "paper", "violet", "engine", "harbor", "pencil", "winter", "cloud", "marble",
         "ladder", "ocean", "velvet", "candle", "meadow", "planet", "silver", "forest", "basket", "thunder",
         "why?", "yes.", "no,", "(maybe)", "3.14", "x=1", "ok!", "it's", "A", "Z"]


def encode(text):
    return [3 + sum(map(ord, w)) % 997 for w in text.split()]


def preprocess(conv):
    start = 0
    while ROLES[conv[start]["from"]] != "USER":
        start += 1
    source = conv[start:]
    messages = []
    for j, sentence in enumerate(source):
        role = ROLES[sentence["from"]]
        assert role == ("USER", "ASSISTANT")[j % 2]
        message = SYSTEM + " " if j == 0 else ""
        if sentence["value"]:
            if role == "USER":
                message += "USER: " + sentence["value"] + " ASSISTANT:"
            else:
                message += sentence["value"]
        messages.append((role, message))
    input_ids = [BOS]
    gpt = []
    total = 1
    for role, message in messages:
        ids = encode(message)[:MAX_MESSAGE]
        input_ids += ids
        if role == "ASSISTANT":
            gpt += list(range(total, total + len(ids)))
        total += len(ids)
    if len(input_ids) >= MAX_SEQ_LEN:
        input_ids = input_ids[:MAX_SEQ_LEN]
        gpt = [g for g in gpt if g < MAX_SEQ_LEN]
    return input_ids, gpt


def words(gen, lo, hi):
    n = gen.randint(lo, hi)
    out = []
    for _ in range(n):
        out.append(gen.choice(WORDS))
        out.append(gen.choice([" ", " ", " ", "  ", "\n"]))
    return "".join(out).strip()


def conversations(gen, count):
    out = []
    for i in range(count):
        turns = []
        for _ in range(gen.choice([0, 0, 0, 1, 2])):  # turns before the first human one are dropped
            turns.append({"from": "gpt", "value": words(gen, 0, 8)})
        for r in range(gen.randint(1, 3)):
            turns.append({"from": "human", "value": "" if gen.random() < 0.1 else words(gen, 1, 30)})
            turns.append({"from": "gpt", "value": "" if gen.random() < 0.1 else words(gen, 0, 60)})
        if gen.random() < 0.2:
            turns.append({"from": "human", "value": words(gen, 1, 10)})  # a question left unanswered
        if all(t["from"] != "gpt" for t in turns[next(k for k, t in enumerate(turns) if t["from"] == "human"):]):
            raise AssertionError("every conversation has a gpt turn after its first human turn")
        out.append({"id": "toy%02d" % i, "conversations": turns})
    return out


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    data = conversations(random.Random(2024), 40)
    # the official selection, with the global random module as the official uses it
    random.seed(SEED)
    order = list(range(len(data)))
    random.shuffle(order)  # permutes positions exactly as random.shuffle(train_json) permutes the records
    selected = []
    i = 0
    while len(selected) < N_SAMPLES:
        ids, gpt = preprocess(data[order[i]]["conversations"])
        if len(gpt) > MIN_GPT_LEN:
            selected.append({"index": order[i], "id": data[order[i]]["id"], "input_ids": ids, "gpt_masks": gpt})
        i += 1
    with open(os.path.join(out_dir, "sharegpt_toy.json"), "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
    fixture = {
        "python": sys.version.split()[0],
        "script": "tools/oracle/sharegpt_selection_fixture.py",
        "tokenizer": "whitespace words; id = 3 + (sum of code points) % 997; bos = 1",
        "settings": {"samples": N_SAMPLES, "max_seq_len": MAX_SEQ_LEN, "max_message_tokens": MAX_MESSAGE,
                     "min_gpt_len": MIN_GPT_LEN, "seed": SEED, "bos": BOS},
        "shuffled_order": order,
        "examined": i,
        "selected": selected,
    }
    with open(os.path.join(out_dir, "sharegpt_selection.json"), "w") as f:
        json.dump(fixture, f)
        f.write("\n")


if __name__ == "__main__":
    main()
