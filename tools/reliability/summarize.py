#!/usr/bin/env python3
"""Summarises the parser-fuzzing outcome files (intactkv-core/target/reliability/*.csv, written
by ParserFuzzTest) as the markdown table of docs/RELIABILITY.md.

    mvn -B -q -pl intactkv-core -am test -Dtest=ParserFuzzTest -Dsurefire.failIfNoSpecifiedTests=false
    python3 tools/reliability/summarize.py intactkv-core/target/reliability
"""
import csv
import pathlib
import sys

ORDER = ["safetensors", "model.safetensors.index.json", "config.json", "tokenizer.json", "quant_config.json",
         "prefix", "sharegpt.jsonl", "items.jsonl", "data.txt"]


def main(folder):
    rows = []
    for name in ORDER:
        f = pathlib.Path(folder) / (name + ".csv")
        counts = {r["outcome"]: int(r["cases"]) for r in csv.DictReader(f.open())}
        loaded = counts.pop("loaded", 0)
        kinds = {}
        for k, v in counts.items():
            k = k.removeprefix("refused: ")
            kinds[k] = kinds.get(k, 0) + v
        top = sorted(kinds.items(), key=lambda kv: -kv[1])[:4]
        rows.append((name, loaded + sum(kinds.values()), loaded, sum(kinds.values()),
                     "; ".join(f"{k} ({v})" for k, v in top)))
    print("| parser | cases | loaded | refused (FormatException) | most frequent refusals (X = a quoted name, N = a number) |")
    print("|---|---|---|---|---|")
    for r in rows:
        print("| %s | %d | %d | %d | %s |" % r)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "intactkv-core/target/reliability")
