package intactkv.quant;

import java.util.List;

/**
 * The small {@code ±1} Hadamard matrices {@code H_K} (K not a power of two) that QuaRot multiplies
 * with a Sylvester matrix to get a Hadamard transform of size {@code K * 2^m}
 * ({@code quarot/hadamard_utils.py::get_hadK}, which stores them as tables taken from Sloane's
 * library). Here they are built, not stored:
 * <ul>
 *   <li>K = 12, 20, 60, 108, 140 (q = K - 1 a prime, q = 3 mod 4): Paley's first construction,
 *       {@code H[0][0] = 1}, {@code H[0][j] = -1}, {@code H[i][0] = 1} and
 *       {@code H[i][j] = 1 if i = j, else -chi(j - i)} for i, j in 1..q, with chi the quadratic
 *       character mod q (the Legendre symbol);</li>
 *   <li>K = 28, 36 (q = K/2 - 1 = 13, 17, q = 1 mod 4): Paley's second construction,
 *       {@code H = A ⊗ C + B ⊗ I} with {@code A = [[1, 1], [1, -1]]}, {@code B = [[1, -1], [-1, -1]]}
 *       and the symmetric conference matrix C of order q + 1 ({@code C[0][0] = 0},
 *       {@code C[0][j] = C[i][0] = 1}, {@code C[i][j] = chi(j - i)});</li>
 *   <li>K = 40: {@code H_2 ⊗ H_20}.</li>
 * </ul>
 * Each equals the corresponding upstream table entry for entry (checked with
 * {@code tools/oracle/quarot_oracle.py --upstream-hadamard}). QuaRot's Williamson matrices of
 * orders 52, 156 and 172 are not built: sizes that need them have no exact Hadamard here
 * ({@link Hadamard#factor} returns 0).
 */
final class HadamardBases {
    /** The orders in the order {@code get_hadK} tries them: the first K dividing n is taken. */
    static final List<Integer> TRIED = List.of(172, 156, 140, 108, 60, 52, 36, 28, 40, 20, 12);

    private HadamardBases() {
    }

    /** Whether {@code H_K} is built here (every order of {@link #TRIED} but 52, 156, 172). */
    static boolean built(int k) {
        return switch (k) {
            case 12, 20, 28, 36, 40, 60, 108, 140 -> true;
            default -> false;
        };
    }

    /** {@code H_K} as {@code ±1} entries, row-major (K, K). */
    static double[] matrix(int k) {
        return switch (k) {
            case 12, 20, 60, 108, 140 -> paleyOne(k - 1);
            case 28, 36 -> paleyTwo(k / 2 - 1);
            case 40 -> kronecker(new double[] {1, 1, 1, -1}, 2, paleyOne(19), 20);
            default -> throw new IllegalArgumentException("no Hadamard matrix of order " + k + " is built here"
                    + " (built: 12, 20, 28, 36, 40, 60, 108, 140)");
        };
    }

    /** The quadratic character of a mod the odd prime q: 0, 1 (a non-zero square) or -1. */
    static int chi(int a, int q) {
        int r = Math.floorMod(a, q);
        if (r == 0) {
            return 0;
        }
        long p = 1;
        long base = r;
        for (int e = (q - 1) / 2; e > 0; e >>= 1) { // Euler's criterion: a^((q-1)/2) mod q
            if ((e & 1) == 1) {
                p = p * base % q;
            }
            base = base * base % q;
        }
        return p == 1 ? 1 : -1;
    }

    /** Paley I of order q + 1 (see the class comment). */
    private static double[] paleyOne(int q) {
        int n = q + 1;
        double[] h = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                double v;
                if (i == 0) {
                    v = j == 0 ? 1 : -1;
                } else if (j == 0) {
                    v = 1;
                } else {
                    v = i == j ? 1 : -chi(j - i, q);
                }
                h[i * n + j] = v;
            }
        }
        return h;
    }

    /** Paley II of order 2(q + 1) (see the class comment). */
    private static double[] paleyTwo(int q) {
        int n = q + 1;
        double[] c = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                c[i * n + j] = i == 0 && j == 0 ? 0 : i == 0 || j == 0 ? 1 : chi(j - i, q);
            }
        }
        double[] a = {1, 1, 1, -1};
        double[] b = {1, -1, -1, -1};
        int m = 2 * n;
        double[] h = new double[m * m];
        for (int bi = 0; bi < 2; bi++) {
            for (int bj = 0; bj < 2; bj++) {
                for (int i = 0; i < n; i++) {
                    for (int j = 0; j < n; j++) {
                        h[(bi * n + i) * m + bj * n + j] = a[bi * 2 + bj] * c[i * n + j] + (i == j ? b[bi * 2 + bj] : 0);
                    }
                }
            }
        }
        return h;
    }

    /** {@code A ⊗ B} for square row-major A (a, a) and B (b, b). */
    static double[] kronecker(double[] x, int a, double[] y, int b) {
        int n = a * b;
        double[] out = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                out[i * n + j] = x[(i / b) * a + j / b] * y[(i % b) * b + j % b];
            }
        }
        return out;
    }
}
