package intactkv.quant;

import intactkv.autograd.Value;
import intactkv.tensor.Shape;
import intactkv.tensor.Tensor;

/**
 * Dynamic quantization of activations and of the KV cache: scale and zero point are computed
 * at run time for every group of consecutive values along the last axis (a token's features
 * for per-token activations; one head's d_h values of one token for the KV cache), as
 * OmniQuant's {@code UniformAffineQuantizer} in dynamic mode (used by IntactKV for KV/activation
 * quantization). A QuaRot model reads only its bits, symmetry and clip ratio and quantizes with
 * {@link QuaRotActQuantizer} (QuaRot's {@code ActQuantizer}: other range rules, no scale clamp):
 * <pre>
 *   xmax = clip * max(x), xmin = clip * min(x)          (over the group)
 *   asymmetric: s = clamp((xmax - xmin) / (2^b - 1), 1e-5, 1e4)
 *               z = rint(clamp(-xmin / s, -1e4, 1e4)),   range [0, 2^b - 1]
 *   symmetric:  s = max(|xmax|, |xmin|) / (2^(b-1) - 1) (at least 1e-5), z = 0,
 *               range [-2^(b-1), 2^(b-1) - 1]           (QuaRot's sym_quant)
 * </pre>
 * then {@link FakeQuant#quantize}. Bit widths of 16 and more leave values unchanged.
 *
 * <p>Note on the symmetric range: OmniQuant writes the symmetric case with zero point
 * {@code 2^(b-1) - 1} in {@code [0, 2^b - 1]}, i.e. integers {@code [-(2^(b-1) - 1), 2^(b-1)]};
 * QuaRot (whose W4A4 setting is the paper's symmetric one) uses {@code [-2^(b-1), 2^(b-1) - 1]}.
 * The two agree unless clipping pushes a value past the range; this implementation follows QuaRot.
 *
 * <p>On the autograd engine ({@link #apply(Value)}) the scale and zero are computed from the
 * data as constants and x passes through the straight-through estimator.
 *
 * @param bits      b (2..16; 16 or more = off)
 * @param symmetric symmetric instead of asymmetric
 * @param clip      clip ratio in (0, 1] applied to the group's max and min
 * @param groupSize number of consecutive last-axis values per group (d_h for per-head KV,
 *                  0 for the whole last axis = per token)
 */
public record DynamicQuantizer(int bits, boolean symmetric, double clip, int groupSize) {
    public DynamicQuantizer {
        FakeQuant.checkBits("dynamic quantization", bits);
        if (!(clip > 0 && clip <= 1)) {
            throw new IllegalArgumentException("clip ratio must be in (0, 1], got " + clip);
        }
        if (groupSize < 0) {
            throw new IllegalArgumentException("group size must be >= 0 (0 = the whole last axis), got " + groupSize);
        }
    }

    /** Per-token asymmetric quantization without clipping. */
    public static DynamicQuantizer perToken(int bits) {
        return new DynamicQuantizer(bits, false, 1.0, 0);
    }

    /** Whether this quantizer changes anything. */
    public boolean enabled() {
        return bits < 16;
    }

    private int group(Shape s, String what) {
        int last = s.dim(-1);
        int g = groupSize == 0 ? last : groupSize;
        if (last % g != 0) {
            throw new IllegalArgumentException(what + ": group of " + g + " does not divide the last axis of " + s);
        }
        return g;
    }

    /** The fake-quantized copy of {@code x}. */
    public Tensor apply(Tensor x) {
        return apply(x, "dynamic quantization");
    }

    /** The fake-quantized copy of {@code x}; {@code what} names the tensor in errors. */
    public Tensor apply(Tensor x, String what) {
        if (!enabled()) {
            return x;
        }
        return FakeQuant.quantizeGroups(x, group(x.shape(), what), (v, off, n, sz) -> params(v, off, n, sz, what),
                qmin(), qmax());
    }

    /**
     * The same on the engine: {@code x} passes the straight-through estimator (gradient 1 inside
     * the range, 0 where clamped); scale and zero are data-dependent constants.
     */
    public Value apply(Value x) {
        if (!enabled()) {
            return x;
        }
        String what = "dynamic quantization";
        return FakeQuant.quantizeGroupsSte(x, group(x.shape(), what), (v, off, n, sz) -> params(v, off, n, sz, what),
                qmin(), qmax());
    }

    private double qmin() {
        return symmetric ? -Math.pow(2, bits - 1) : 0;
    }

    private double qmax() {
        return symmetric ? Math.pow(2, bits - 1) - 1 : Math.pow(2, bits) - 1;
    }

    /** Scale and zero of one group into {@code sz}. */
    private void params(double[] x, int off, int n, double[] sz, String what) {
        double max = Double.NEGATIVE_INFINITY;
        double min = Double.POSITIVE_INFINITY;
        for (int i = off; i < off + n; i++) {
            if (!Double.isFinite(x[i])) {
                throw new IllegalArgumentException(what + ": non-finite value " + x[i] + " at flat index " + i);
            }
            max = Math.max(max, x[i]);
            min = Math.min(min, x[i]);
        }
        max *= clip;
        min *= clip;
        if (symmetric) {
            sz[0] = Math.max(Math.max(Math.abs(max), Math.abs(min)), 1e-5) / qmax();
            sz[1] = 0;
        } else {
            double s = Math.min(Math.max((max - min) / qmax(), 1e-5), 1e4);
            sz[0] = s;
            sz[1] = Math.rint(Math.min(Math.max(-min / s, -1e4), 1e4));
        }
    }
}
