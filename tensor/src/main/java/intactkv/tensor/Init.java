package intactkv.tensor;

import java.util.Random;

/**
 * Seeded random initialisation. Every method takes the generator explicitly, so a fixed
 * seed gives bit-identical tensors ({@link Random}'s algorithms, including
 * {@code nextGaussian}, are fixed by its specification).
 */
public final class Init {
    private Init() {
    }

    /** Independent {@code N(0, std^2)} entries. */
    public static Tensor normal(Random rng, double std, int... dims) {
        Tensor t = Tensor.zeros(dims);
        double[] d = t.data();
        for (int i = 0; i < d.length; i++) {
            d[i] = std * rng.nextGaussian();
        }
        return t;
    }

    /** Independent uniform entries in {@code [lo, hi)}. */
    public static Tensor uniform(Random rng, double lo, double hi, int... dims) {
        if (!(lo < hi)) {
            throw new IllegalArgumentException("uniform: need lo < hi, got [" + lo + ", " + hi + ")");
        }
        Tensor t = Tensor.zeros(dims);
        double[] d = t.data();
        for (int i = 0; i < d.length; i++) {
            d[i] = lo + (hi - lo) * rng.nextDouble();
        }
        return t;
    }
}
