package intactkv.quant;

import intactkv.tensor.Tensor;

/**
 * Round-to-nearest weight quantization per group of {@code g} consecutive inputs of each
 * output row, exactly as AWQ's {@code pseudo_quantize_tensor} (used by IntactKV for RTN and,
 * after scaling, for AWQ). For W of shape (out, in), each group w of g values:
 * <pre>
 *   asymmetric: s = max(max(w) - min(w), 1e-5) / (2^b - 1)
 *               z = clamp(-rint(min(w) / s), 0, 2^b - 1),  range [0, 2^b - 1]
 *   symmetric:  s = max|w| / (2^(b-1) - 1), z = 0,        range [-2^(b-1), 2^(b-1) - 1]
 * </pre>
 * then {@link FakeQuant#quantize}. Group size g = in (or {@link Spec#PER_CHANNEL}) is
 * per-output-channel quantization.
 */
public final class WeightQuantizer {
    private WeightQuantizer() {
    }

    /**
     * Weight quantization settings.
     *
     * @param bits      b, 2..16 (16 = unchanged)
     * @param groupSize g, or {@link #PER_CHANNEL} for one group per output row
     * @param symmetric symmetric (z = 0) instead of asymmetric
     */
    public record Spec(int bits, int groupSize, boolean symmetric) {
        public static final int PER_CHANNEL = -1;

        public Spec {
            FakeQuant.checkBits("weight quantization", bits);
            if (groupSize == 0 || groupSize < -1) {
                throw new IllegalArgumentException("group size must be > 0 or -1 (per channel), got " + groupSize);
            }
        }

        /** The group size for {@code in} inputs, checking that it divides them. */
        public int groupFor(int in, String layer) {
            int g = groupSize == PER_CHANNEL ? in : groupSize;
            if (in % g != 0) {
                throw new IllegalArgumentException(layer + ": group size " + g + " does not divide the input dimension "
                        + in);
            }
            return g;
        }

        public static Spec asym(int bits, int group) {
            return new Spec(bits, group, false);
        }
    }

    /**
     * Returns the fake-quantized copy of {@code w (out, in)}; {@code layer} names it in errors. The copy
     * is kept as its integer codes with the groups' scales and zeros ({@link QuantCodes}: its doubles
     * are the fake-quantized values, bit for bit), so a quantized model holds bits / 8 bytes a weight.
     */
    public static Tensor quantize(Tensor w, Spec spec, String layer) {
        w.shape().requireRank(layer, 2);
        if (spec.bits() >= 16) {
            return w.copy();
        }
        int out = w.dim(0);
        int in = w.dim(1);
        int g = spec.groupFor(in, layer);
        double[] src = w.data();
        double[] dst = new double[src.length];
        int qmin = spec.symmetric() ? -(1 << (spec.bits() - 1)) : 0;
        QuantCodes.Builder codes = new QuantCodes.Builder(out, in, spec.bits(), qmin, in / g,
                QuantCodes.Builder.consecutive(in, g));
        for (int r = 0; r < out; r++) {
            for (int g0 = 0; g0 < in; g0 += g) {
                quantizeGroup(src, dst, r * in + g0, g, spec, layer, codes, r, g0);
            }
        }
        return codes.build(Tensor.wrap(dst, w.shape()));
    }

    /**
     * {@link #quantize} as plain doubles, without keeping the codes: for the trials of a search (AWQ's
     * scale grid), whose weights are used once and dropped. The same values, bit for bit.
     */
    static Tensor fakeQuantize(Tensor w, Spec spec, String layer) {
        w.shape().requireRank(layer, 2);
        if (spec.bits() >= 16) {
            return w.copy();
        }
        int out = w.dim(0);
        int in = w.dim(1);
        int g = spec.groupFor(in, layer);
        double[] src = w.data();
        double[] dst = new double[src.length];
        for (int off = 0; off < src.length; off += g) {
            quantizeGroup(src, dst, off, g, spec, layer);
        }
        return Tensor.wrap(dst, out, in);
    }

    /** Quantizes the {@code n} values from {@code off} of {@code src} (one group) into {@code dst}. */
    static void quantizeGroup(double[] src, double[] dst, int off, int n, Spec spec, String layer) {
        quantizeGroup(src, dst, off, n, spec, layer, null, 0, 0);
    }

    /**
     * {@link #quantizeGroup(double[], double[], int, int, Spec, String)}, recording the group's codes,
     * scale and zero in {@code codes} (when not null) as row {@code r}, columns from {@code c0}.
     */
    private static void quantizeGroup(double[] src, double[] dst, int off, int n, Spec spec, String layer,
                                      QuantCodes.Builder codes, int r, int c0) {
        double max = Double.NEGATIVE_INFINITY;
        double min = Double.POSITIVE_INFINITY;
        for (int i = off; i < off + n; i++) {
            double v = src[i];
            if (!Double.isFinite(v)) {
                throw new IllegalArgumentException(layer + ": non-finite weight " + v + " at flat index " + i);
            }
            max = Math.max(max, v);
            min = Math.min(min, v);
        }
        int b = spec.bits();
        double s;
        double z;
        double qmin;
        double qmax;
        if (spec.symmetric()) {
            double absMax = Math.max(Math.abs(max), Math.abs(min));
            qmax = Math.pow(2, b - 1) - 1;
            qmin = -Math.pow(2, b - 1);
            s = Math.max(absMax, 1e-5) / qmax;
            z = 0;
        } else {
            qmax = Math.pow(2, b) - 1;
            qmin = 0;
            s = Math.max(max - min, 1e-5) / qmax;
            z = Math.min(Math.max(-Math.rint(min / s), 0), qmax);
        }
        if (codes == null) {
            for (int i = off; i < off + n; i++) {
                dst[i] = FakeQuant.quantize(src[i], s, z, qmin, qmax);
            }
            return;
        }
        codes.params(r, c0 / n, s, z);
        for (int i = off; i < off + n; i++) {
            dst[i] = codes.put(r, c0 + i - off, FakeQuant.code(src[i], s, z, qmin, qmax));
        }
    }
}
