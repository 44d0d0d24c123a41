#!/usr/bin/env python3
"""The built-in model issue's acceptance measures from an `analyze` analysis.json: heads of layers >= 1
with >= 30 % of their attention on [BOS] (the criterion: at least half), each layer's mean on [BOS]
and its sink heads, the largest [BOS] activation / median (the criterion: >= 10x), and the tokens
each layer attends to most.  Usage: summary.py ANALYSIS_JSON"""
import json
import sys


def main():
    a = json.load(open(sys.argv[1]))
    layers = a["layers"]
    later = [h for lj in layers[1:] for h in lj["attention_on_bos_by_head"]]
    sinks = sum(1 for h in later if h >= 0.3)
    print(f"sink heads (>= 30 % on [BOS], layers >= 1): {sinks} / {len(later)} (criterion: {(len(later) + 1) // 2})")
    for lj in layers:
        heads = lj["attention_on_bos_by_head"]
        top = ", ".join(f"'{t['piece']}' {100 * t['mean_attention']:.1f} %"
                        for t in a["most_attended_tokens_by_layer"][lj["layer"]])
        print(f"  layer {lj['layer']}: mean {100 * lj['mean_attention_on_bos']:.1f} % on [BOS], "
              f"{lj['heads_with_30pct_on_bos']} / {len(heads)} heads >= 30 %, largest {100 * max(heads):.0f} %; "
              f"most attended: {top}")
    bos = [m for m in a["massive_activations"] if m["token"] == 0]
    best = max(bos, key=lambda m: m["ratio"]) if bos else None
    print("largest [BOS] activation / median: " + (f"{best['ratio']:.1f}x (layer {best['layer']})" if best
                                                    else "[BOS] not among the largest activations"))


if __name__ == "__main__":
    main()
