#!/usr/bin/env python3
"""Tokenizer parity fixtures: trains a SentencePiece BPE model with byte fallback (LLaMA's
settings: identity normalisation, dummy prefix, extra whitespace kept) on synthetic text made
here, converts it to a Hugging Face tokenizer.json (vocab, merges ordered by piece score as
HF's SentencePiece converter does, LLaMA's normaliser, post-processor and decoder), and writes
the ids SentencePiece itself gives for a set of test strings.

Usage (Debian: apt-get install python3-sentencepiece):
    /usr/bin/python3 tools/oracle/tokenizer_fixtures.py model/src/test/resources/oracle/tokenizer

No third-party text is used: the corpus is random pseudo-words from a fixed seed.
"""
import io
import json
import os
import random
import sys

import sentencepiece as spm

SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "qua", "str", "ing", "ed", "ion", "th", "er",
             "an", "re", "on", "at", "en", "es", "or", "te", "of", "nd", "is", "it", "al", "ar", "st", "to"]
EXTRA = ["café", "naïve", "über", "señor", "Ω", "π", "数据", "模型", "😀", "—", "«", "»"]


def word(rng):
    w = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 4)))
    r = rng.random()
    if r < 0.1:
        w = w.capitalize()
    elif r < 0.13:
        w = rng.choice(EXTRA)
    elif r < 0.18:
        w = str(rng.randint(0, 2024))
    return w


def sentence(rng):
    words = [word(rng) for _ in range(rng.randint(3, 14))]
    s = " ".join(words)
    s = s[0].upper() + s[1:] + rng.choice([".", ".", "!", "?", ";", ","])
    if rng.random() < 0.1:
        s = s.replace(" ", "  ", 1)
    return s


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = random.Random(1234)
    corpus = [sentence(rng) for _ in range(4000)]
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus), model_writer=model, model_type="bpe", vocab_size=420,
        byte_fallback=True, character_coverage=0.995, normalization_rule_name="identity",
        add_dummy_prefix=True, remove_extra_whitespaces=False, split_digits=True,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, minloglevel=2, num_threads=1)
    sp = spm.SentencePieceProcessor(model_proto=model.getvalue())

    n = sp.get_piece_size()
    vocab = {sp.id_to_piece(i): i for i in range(n)}
    scores = {sp.id_to_piece(i): sp.get_score(i) for i in range(n)}
    merges = []
    for piece in vocab:  # by id
        if sp.is_control(vocab[piece]) or sp.is_byte(vocab[piece]) or sp.is_unknown(vocab[piece]):
            continue
        local = []
        for k in range(1, len(piece)):
            left, right = piece[:k], piece[k:]
            if left in vocab and right in vocab:
                local.append((left, right, scores[piece]))
        local.sort(key=lambda m: (vocab[m[0]], vocab[m[1]]))
        merges.extend(local)
    merges.sort(key=lambda m: m[2], reverse=True)  # stable: ties keep the order above

    special = {"<unk>": 0, "<s>": 1, "</s>": 2}
    tok = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": i, "content": c, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True} for c, i in special.items()],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "\u2581"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
        "pre_tokenizer": None,
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                      {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [], "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True,
                  "vocab": vocab, "merges": [f"{a} {b}" for a, b, _ in merges]},
    }
    with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False, indent=1)

    test_rng = random.Random(99)
    texts = [sentence(test_rng) for _ in range(60)]
    texts += ["", " ", "a", "  leading spaces", "trailing  ", "two\nlines\n", "tab\there", "digits 1234567 3.14",
              "unseen: 😀🎉 数据模型 Ωmega", "ÀÉÎÕÜ ñ ç", "x" * 40, "kalo mine ruza tivo quaing"]
    cases = [{"text": t, "ids": sp.encode(t, out_type=int)} for t in texts]
    with open(os.path.join(out, "cases.json"), "w", encoding="utf-8") as f:
        json.dump({"made_by": f"tools/oracle/tokenizer_fixtures.py, sentencepiece {spm.__version__}",
                   "cases": cases}, f, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
