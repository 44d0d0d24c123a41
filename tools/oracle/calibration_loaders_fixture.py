#!/usr/bin/python3
"""Fixture for the calibration loaders of intactkv.quant (RandomDocumentWindows,
ShortDocumentBlocks, JoinedTextWindows): which documents and offsets the official loaders pick,
given documents that are already token id lists.

The loaders below follow the official functions statement by statement, with the only
difference that `tokenizer(text).input_ids` / `tokenizer.encode(line)` is a lookup of the
document's token ids (the ids are in the fixture, so both sides see the same lists):
  gptq:      IntactKV utils/datautils.py::get_c4_new (eval_mode=False), quantize_with_gptq.py::get_c4
  awq:       llm_awq/utils/calib_data.py::get_calib_dataset; the official `dataset.shuffle(seed=42)`
             (Hugging Face datasets, numpy PCG64) is replaced by random.seed(seed) +
             random.shuffle(list(range(n))), the deviation the Java side documents
  wikitext2: IntactKV utils/datautils.py::get_wikitext2 (eval_mode=False), QuaRot seed 0, and
             OpenGVLab/OmniQuant datautils.py::get_wikitext2, seed 2 (same statements)
The documents' ids come from a separate random.Random(2024) and put [BOS] = 1 first, as the
LLaMA tokenizer does (the awq case also has empty documents, as a tokenizer without [BOS] gives).

Run: /usr/bin/python3 tools/oracle/calibration_loaders_fixture.py > quant/src/test/resources/fixtures/calibration_loaders.json
Only the standard library is used (CPython 3.11.2 made the committed file).
"""
import json
import random
import sys

BOS = 1


def gptq_loader(docs, nsamples, seed, seqlen):
    """get_c4_new's train branch; returns [(document, offset)]."""
    traindata = docs
    random.seed(seed)
    picks = []
    for _ in range(nsamples):
        while True:
            i = random.randint(0, len(traindata) - 1)
            trainenc = traindata[i]
            if len(trainenc) >= seqlen:
                break
        d = i
        i = random.randint(0, len(trainenc) - seqlen - 1)
        picks.append([d, i])
    return picks


def awq_loader(docs, n_samples, block_size, seed):
    """get_calib_dataset; returns (order, kept documents, blocks)."""
    order = list(range(len(docs)))
    random.seed(seed)
    random.shuffle(order)  # stands for dataset.shuffle(seed=42)
    samples = []
    kept = []
    n_run = 0
    for d in order:
        line_encoded = docs[d]
        if len(line_encoded) > 512:
            continue
        if len(line_encoded) == 0:
            continue
        samples.append(line_encoded)
        kept.append(d)
        n_run += 1
        if n_run == n_samples:
            break
    cat_samples = [t for s in samples for t in s]
    n_split = len(cat_samples) // block_size
    blocks = [cat_samples[i * block_size:(i + 1) * block_size] for i in range(n_split)]
    return order, kept, blocks


def wikitext2_offsets(ntokens, nsamples, seed, seqlen):
    """get_wikitext2's train branch; returns the offsets i (windows ids[i:i+seqlen])."""
    random.seed(seed)
    out = []
    for _ in range(nsamples):
        i = random.randint(0, ntokens - seqlen - 1)
        out.append(i)
    return out


def document(gen, length):
    if length == 0:
        return []
    return [BOS] + [gen.randint(3, 99) for _ in range(length - 1)]


def main():
    gen = random.Random(2024)
    out = {"python": sys.version.split()[0], "gptq": [], "awq": [], "wikitext2": []}

    # gptq: mostly short documents, a few long enough; no document of exactly seqlen tokens
    # (upstream accepts it and then fails in randint(0, -1))
    for ndocs, seqlen, nsamples, seed, long_share, short_max in [
            (200, 40, 24, 42, 0.1, 60), (40, 16, 10, 7, 0.3, 30), (3000, 8, 40, 42, 0.02, 8)]:
        docs = []
        for _ in range(ndocs):
            if gen.random() < long_share:
                length = gen.randint(seqlen + 1, 3 * seqlen)
            else:
                length = gen.randint(1, short_max)
            if length == seqlen:
                length += 1
            docs.append(document(gen, length))
        out["gptq"].append({"seqlen": seqlen, "nsamples": nsamples, "seed": seed, "documents": docs,
                            "picks": gptq_loader(docs, nsamples, seed, seqlen)})

    # awq: empty documents, documents over 512 tokens, one of exactly 512
    for ndocs, nsamples, block, seed, long_share in [(200, 50, 64, 42, 0.05), (60, 20, 512, 3, 0.2)]:
        docs = []
        for k in range(ndocs):
            r = gen.random()
            if k == 5:
                length = 512
            elif r < 0.1:
                length = 0
            elif r < 0.1 + long_share:
                length = gen.randint(513, 530)
            else:
                length = gen.randint(1, 60 if block < 512 else 300)
            docs.append(document(gen, length))
        order, kept, blocks = awq_loader(docs, nsamples, block, seed)
        out["awq"].append({"nsamples": nsamples, "block": block, "seed": seed, "documents": docs,
                           "order": order, "kept": kept, "blocks": blocks})

    # wikitext2-style windows of one token list (QuaRot seed 0, OmniQuant seed 2), and offsets
    # alone for a text of two million tokens
    ids = document(gen, 3000)
    for seed in [0, 2]:
        out["wikitext2"].append({"seqlen": 64, "nsamples": 32, "seed": seed, "ids": ids,
                                 "offsets": wikitext2_offsets(len(ids), 32, seed, 64)})
    out["wikitext2"].append({"seqlen": 2048, "nsamples": 128, "seed": 0, "ntokens": 2_000_000,
                             "offsets": wikitext2_offsets(2_000_000, 128, 0, 2048)})
    json.dump(out, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
