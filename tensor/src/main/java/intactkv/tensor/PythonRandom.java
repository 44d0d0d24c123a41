package intactkv.tensor;

import java.math.BigInteger;
import java.util.List;

/**
 * CPython's {@code random} module, bit for bit, for the draws the official IntactKV code makes:
 * {@code random.seed(n)}, {@code getrandbits(k)}, {@code randint(a, b)} and {@code shuffle(x)}.
 * With it, a calibration loader given the same token ids picks the same documents and offsets as
 * the official one ({@code utils/datautils.py::get_c4_new} with seed 42,
 * {@code get_wikitext2} with seed 0) and the ShareGPT selection shuffles in the same order
 * ({@code utils/sharegpt.py::make_sharegpt_data_module}, {@code random.shuffle} after
 * {@code random.seed(42)}).
 *
 * <p>The generator is the 32-bit Mersenne Twister MT19937 (Matsumoto and Nishimura 1998).
 * Reference: CPython {@code Modules/_randommodule.c} ({@code init_genrand}, {@code init_by_array},
 * {@code genrand_uint32}, {@code random_seed} for integer seeds: the key is |n| cut into 32-bit
 * words, least significant first) and {@code Lib/random.py} ({@code _randbelow_with_getrandbits}:
 * {@code k = n.bit_length()}, draw {@code getrandbits(k)} until it is below n; {@code randrange},
 * {@code randint}, {@code shuffle}: for i from len-1 down to 1 swap x[i] with
 * x[_randbelow(i + 1)]). Checked against CPython 3.11 by {@code tools/oracle/python_random_fixture.py}.
 *
 * <p>Not thread-safe: one instance per sequence of draws, as a seeded {@link java.util.Random}.
 */
public final class PythonRandom {
    private static final int N = 624;
    private static final int M = 397;
    private static final int MATRIX_A = 0x9908b0df;
    private static final int UPPER_MASK = 0x80000000;
    private static final int LOWER_MASK = 0x7fffffff;

    private final int[] mt = new int[N];
    private int mti;

    /** The state {@code random.seed(seed)} leaves (seed may be negative: Python uses |seed|). */
    public PythonRandom(long seed) {
        this(BigInteger.valueOf(seed));
    }

    /** The state {@code random.seed(seed)} leaves for an integer seed of any size. */
    public PythonRandom(BigInteger seed) {
        BigInteger n = seed.abs();
        int words = Math.max(1, (n.bitLength() + 31) / 32);
        int[] key = new int[words];
        for (int i = 0; i < words; i++) {
            key[i] = n.shiftRight(32 * i).intValue();
        }
        initByArray(key);
    }

    private void initGenrand(int s) {
        mt[0] = s;
        for (mti = 1; mti < N; mti++) {
            mt[mti] = 1812433253 * (mt[mti - 1] ^ (mt[mti - 1] >>> 30)) + mti;
        }
    }

    private void initByArray(int[] key) {
        initGenrand(19650218);
        int i = 1;
        int j = 0;
        for (int k = Math.max(N, key.length); k > 0; k--) {
            mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >>> 30)) * 1664525)) + key[j] + j;
            i++;
            j++;
            if (i >= N) {
                mt[0] = mt[N - 1];
                i = 1;
            }
            if (j >= key.length) {
                j = 0;
            }
        }
        for (int k = N - 1; k > 0; k--) {
            mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >>> 30)) * 1566083941)) - i;
            i++;
            if (i >= N) {
                mt[0] = mt[N - 1];
                i = 1;
            }
        }
        mt[0] = 0x80000000; // MSB is 1, assuring a non-zero initial array
    }

    /** The next 32-bit output of MT19937 ({@code genrand_uint32}), as an unsigned value in a long. */
    public long nextUint32() {
        if (mti >= N) {
            int kk;
            for (kk = 0; kk < N - M; kk++) {
                int y = (mt[kk] & UPPER_MASK) | (mt[kk + 1] & LOWER_MASK);
                mt[kk] = mt[kk + M] ^ (y >>> 1) ^ ((y & 1) != 0 ? MATRIX_A : 0);
            }
            for (; kk < N - 1; kk++) {
                int y = (mt[kk] & UPPER_MASK) | (mt[kk + 1] & LOWER_MASK);
                mt[kk] = mt[kk + (M - N)] ^ (y >>> 1) ^ ((y & 1) != 0 ? MATRIX_A : 0);
            }
            int y = (mt[N - 1] & UPPER_MASK) | (mt[0] & LOWER_MASK);
            mt[N - 1] = mt[M - 1] ^ (y >>> 1) ^ ((y & 1) != 0 ? MATRIX_A : 0);
            mti = 0;
        }
        int y = mt[mti++];
        y ^= y >>> 11;
        y ^= (y << 7) & 0x9d2c5680;
        y ^= (y << 15) & 0xefc60000;
        y ^= y >>> 18;
        return y & 0xffffffffL;
    }

    /**
     * {@code getrandbits(k)}: for k &lt;= 32 the top k bits of one output; wider values are built
     * from 32-bit outputs, least significant word first, the last word keeping its top bits.
     */
    public BigInteger getrandbits(int k) {
        if (k < 0) {
            throw new IllegalArgumentException("getrandbits: number of bits must be non-negative, got " + k);
        }
        if (k == 0) {
            return BigInteger.ZERO;
        }
        if (k <= 32) {
            return BigInteger.valueOf(nextUint32() >>> (32 - k));
        }
        BigInteger r = BigInteger.ZERO;
        int shift = 0;
        for (int left = k; left > 0; left -= 32, shift += 32) {
            long w = nextUint32();
            if (left < 32) {
                w >>>= 32 - left;
            }
            r = r.or(BigInteger.valueOf(w).shiftLeft(shift));
        }
        return r;
    }

    /** {@code _randbelow(n)}: uniform in [0, n) by rejection of {@code getrandbits(n.bit_length())}. */
    public long randbelow(long n) {
        if (n <= 0) {
            throw new IllegalArgumentException("randbelow: n must be positive, got " + n);
        }
        int k = 64 - Long.numberOfLeadingZeros(n);
        long r = getrandbits(k).longValueExact();
        while (r >= n) {
            r = getrandbits(k).longValueExact();
        }
        return r;
    }

    /** {@code randint(a, b)}: uniform in [a, b], both ends included ({@code a + _randbelow(b - a + 1)}). */
    public long randint(long a, long b) {
        if (b < a) {
            throw new IllegalArgumentException("randint: empty range [" + a + ", " + b + "]");
        }
        return a + randbelow(Math.addExact(Math.subtractExact(b, a), 1));
    }

    /** {@code shuffle(x)} in place, as Python's Fisher-Yates from the end. */
    public <T> void shuffle(List<T> x) {
        for (int i = x.size() - 1; i > 0; i--) {
            int j = (int) randbelow(i + 1L);
            T t = x.get(i);
            x.set(i, x.get(j));
            x.set(j, t);
        }
    }
}
