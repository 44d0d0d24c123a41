#!/usr/bin/python3
"""Fixture for intactkv.tensor.PythonRandom: what CPython's `random` module draws after
`random.seed(s)` (the Mersenne Twister seeded by init_by_array, getrandbits, randint through
_randbelow, shuffle), for the seeds the official IntactKV loaders use (42 for GPTQ's C4 loader
and the ShareGPT selection, 0 for QuaRot's WikiText-2 loader) and a few more, including seeds
wider than 32 bits.

Run: /usr/bin/python3 tools/oracle/python_random_fixture.py > tensor/src/test/resources/fixtures/python_random.tsv
Only the standard library is used. One line per draw, tab-separated:
  seed  getrandbits  k  value
  seed  randint      a  b  value      (consecutive calls after one seed())
  seed  shuffle      n  x0,x1,...     (shuffle of list(range(n)))
  seed  uint32       i  value         (the i-th 32-bit output, i = 0..699, past one regeneration)
"""
import random
import sys

print("# python", sys.version.split()[0])
for seed in [0, 1, 42, 1234, 2**32 + 5, 2**70 + 3]:
    random.seed(seed)
    for k in [1, 7, 31, 32, 33, 52, 64, 100]:
        print(seed, "getrandbits", k, random.getrandbits(k), sep="\t")
    random.seed(seed)
    for a, b in [(0, 10), (0, 1000), (5, 5), (0, 2**31 - 1), (0, 2**32), (-7, 7), (0, 12345678901)]:
        for _ in range(3):
            print(seed, "randint", a, b, random.randint(a, b), sep="\t")
    for n in [1, 2, 23, 300]:
        random.seed(seed)
        xs = list(range(n))
        random.shuffle(xs)
        print(seed, "shuffle", n, ",".join(map(str, xs)), sep="\t")
    random.seed(seed)
    for i in range(700):
        v = random.getrandbits(32)
        if i < 5 or 620 <= i < 630 or i == 699:
            print(seed, "uint32", i, v, sep="\t")
