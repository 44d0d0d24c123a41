package intactkv.quant;

import intactkv.autograd.Value;
import intactkv.tensor.Tensor;

/**
 * QuaRot's run-time quantizer of activations, keys and values
 * ({@code quarot/quant_utils.py::ActQuantizer}): for every group of consecutive values along
 * the last axis (a token's features; one head's d_h values of one token), with
 * {@code b} bits and clip ratio c,
 * <pre>
 *   range with zero (find_params, groupsize -1):        xmin = c min(min x, 0),  xmax = c max(max x, 0)
 *   range without zero (find_params_per_token_groupwise): xmin = c min x,         xmax = c max x
 *   symmetric:  xmax <- max(|xmin|, xmax);  s = xmax / (2^(b-1) - 1)  (s = 1 where xmax = 0)
 *               x^ = clamp(rint(x / s), -2^(b-1), 2^(b-1) - 1) s               (sym_quant_dequant)
 *   asymmetric: xmin, xmax <- -1, 1 where both are 0;  s = (xmax - xmin) / (2^b - 1)
 *               z = rint(-xmin / s);  x^ = (clamp(rint(x / s) + z, 0, 2^b - 1) - z) s  (asym_quant_dequant)
 * </pre>
 * Unlike {@link DynamicQuantizer} (OmniQuant's) the scale is not clamped to [1e-5, 1e4] and, with
 * zero in the range, a group of positive values keeps {@code xmin = 0}. As upstream, an
 * asymmetric group without zero in its range whose values are all equal and non-zero has
 * {@code s = 0} and quantizes to NaN. Which range each tensor uses is the official wiring
 * ({@link QuaRotHooks}): linear inputs per token and keys per head with zero, values per head
 * without. Bit widths of 16 leave values unchanged.
 *
 * <p>On the autograd engine the values pass the straight-through estimator
 * ({@link FakeQuant#quantizeSte}); scale and zero are data-dependent constants.
 *
 * @param bits      b (2..16; 16 = off)
 * @param symmetric symmetric instead of asymmetric
 * @param clip      clip ratio c in (0, 1]
 * @param withZero  whether the range includes 0 (upstream's per-token path) or not (its groupwise path)
 */
public record QuaRotActQuantizer(int bits, boolean symmetric, double clip, boolean withZero) {
    public QuaRotActQuantizer {
        FakeQuant.checkBits("QuaRot activation quantization", bits);
        if (!(clip > 0 && clip <= 1)) {
            throw new IllegalArgumentException("clip ratio must be in (0, 1], got " + clip);
        }
    }

    /** The bits, symmetry and clip ratio of {@code spec} with the given range rule. */
    public static QuaRotActQuantizer of(DynamicQuantizer spec, boolean withZero) {
        return new QuaRotActQuantizer(spec.bits(), spec.symmetric(), spec.clip(), withZero);
    }

    /** Whether this quantizer changes anything. */
    public boolean enabled() {
        return bits < 16;
    }

    /** The fake-quantized copy of {@code x}, one group per last-axis row. */
    public Tensor apply(Tensor x) {
        if (!enabled()) {
            return x;
        }
        return FakeQuant.quantizeGroups(x, x.dim(-1), this::params, qmin(), qmax());
    }

    /** The same on the engine, with the straight-through estimator. */
    public Value apply(Value x) {
        if (!enabled()) {
            return x;
        }
        return FakeQuant.quantizeGroupsSte(x, x.shape().dim(-1), this::params, qmin(), qmax());
    }

    /** The lowest integer level: {@code -2^(b-1)} symmetric, 0 asymmetric. */
    double qmin() {
        return symmetric ? -Math.pow(2, bits - 1) : 0;
    }

    /** The highest integer level ({@code maxq} upstream): {@code 2^(b-1) - 1} symmetric, {@code 2^b - 1} asymmetric. */
    double qmax() {
        return symmetric ? Math.pow(2, bits - 1) - 1 : Math.pow(2, bits) - 1;
    }

    /** Scale and zero of the {@code n} values from {@code off} into {@code sz}. */
    void params(double[] x, int off, int n, double[] sz) {
        double max = withZero ? 0 : Double.NEGATIVE_INFINITY;
        double min = withZero ? 0 : Double.POSITIVE_INFINITY;
        for (int i = off; i < off + n; i++) {
            if (!Double.isFinite(x[i])) {
                throw new IllegalArgumentException("QuaRot activation quantization: non-finite value " + x[i]
                        + " at flat index " + i);
            }
            max = Math.max(max, x[i]);
            min = Math.min(min, x[i]);
        }
        double xmax = max * clip;
        double xmin = min * clip;
        if (symmetric) {
            xmax = Math.max(Math.abs(xmin), xmax);
            sz[0] = xmax == 0 ? 1 : xmax / qmax();
            sz[1] = 0;
        } else {
            if (xmin == 0 && xmax == 0) {
                xmin = -1;
                xmax = 1;
            }
            sz[0] = (xmax - xmin) / qmax();
            sz[1] = Math.rint(-xmin / sz[0]);
        }
    }
}
