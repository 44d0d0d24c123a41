package intactkv.quant;

import intactkv.autograd.Arithmetic;
import intactkv.autograd.QuantOps;
import intactkv.autograd.Shaping;
import intactkv.autograd.Value;
import intactkv.tensor.Tensor;

/**
 * The canonical fake-quantization function, which every quantizer of this module calls:
 * <pre>
 *   x^ = (clamp(rint(x / s) + z, qmin, qmax) - z) * s
 * </pre>
 * with {@code rint} rounding half to even ({@link Math#rint}, like {@code torch.round}); ties
 * decide bit-exactness when porting. GPTQ's {@code quantize(x, scale, zero, maxq)} has the same
 * form with {@code qmin = 0}.
 */
public final class FakeQuant {
    private FakeQuant() {
    }

    /** {@code x^} for one value; see the class comment. Equals {@code dequantize(code(x, ...), s, z)}, bit for bit. */
    public static double quantize(double x, double s, double z, double qmin, double qmax) {
        return dequantize(code(x, s, z, qmin, qmax), s, z);
    }

    /**
     * The integer code of {@code x}, {@code clamp(rint(x / s) + z, qmin, qmax)}, as a double (an integer
     * in {@code [qmin, qmax]} for finite x and s): the first half of {@link #quantize}, what a packed
     * checkpoint stores ({@link QuantCodes}).
     */
    public static double code(double x, double s, double z, double qmin, double qmax) {
        double q = Math.rint(x / s) + z;
        return Math.min(Math.max(q, qmin), qmax);
    }

    /**
     * The value of {@code code}: {@code (code - z) * s}, the second half of {@link #quantize}, in the same
     * operations and order, so a weight kept as codes gives the same doubles as the fake-quantized weight.
     */
    public static double dequantize(double code, double s, double z) {
        return (code - z) * s;
    }

    /**
     * The same function on the autograd engine with the straight-through estimator:
     * {@code rint} is {@link QuantOps#roundSte} (gradient 1) and the clamp passes the gradient
     * only inside {@code [qmin, qmax]}. {@code s} and {@code z} broadcast against {@code x};
     * gradients reach them too where they require one (learnable clipping).
     */
    public static Value quantizeSte(Value x, Value s, Value z, double qmin, double qmax) {
        Value q = Arithmetic.add(QuantOps.roundSte(Arithmetic.div(x, s)), z);
        return Arithmetic.mul(Arithmetic.sub(QuantOps.clamp(q, qmin, qmax), z), s);
    }

    /** Scale and zero of a group: writes {@code s} to {@code sz[0]} and {@code z} to {@code sz[1]} for the {@code n} values from {@code off} of {@code x}. */
    @FunctionalInterface
    interface GroupParams {
        void of(double[] x, int off, int n, double[] sz);
    }

    /**
     * {@link #quantize} of {@code x} in consecutive groups of {@code g} elements (of its flat order),
     * each with the scale and zero {@code params} gives it: the per-token / per-group activation and
     * KV quantizers, whose parameters follow the data.
     */
    static Tensor quantizeGroups(Tensor x, int g, GroupParams params, double qmin,
                                                 double qmax) {
        double[] src = x.data();
        double[] dst = new double[src.length];
        double[] sz = new double[2];
        for (int off = 0; off < src.length; off += g) {
            params.of(src, off, g, sz);
            for (int i = off; i < off + g; i++) {
                dst[i] = quantize(src[i], sz[0], sz[1], qmin, qmax);
            }
        }
        return Tensor.wrap(dst, x.shape());
    }

    /**
     * {@link #quantizeGroups} on the engine: {@code x} passes {@link #quantizeSte}, its groups' scales
     * and zeros are data-dependent constants.
     */
    static Value quantizeGroupsSte(Value x, int g, GroupParams params, double qmin, double qmax) {
        double[] src = x.data().data();
        int groups = src.length / g;
        double[] s = new double[groups];
        double[] z = new double[groups];
        double[] sz = new double[2];
        for (int k = 0; k < groups; k++) {
            params.of(src, k * g, g, sz);
            s[k] = sz[0];
            z[k] = sz[1];
        }
        Value grouped = Shaping.reshape(x, groups, g);
        Value q = quantizeSte(grouped, Value.constant(Tensor.wrap(s, groups, 1)),
                Value.constant(Tensor.wrap(z, groups, 1)), qmin, qmax);
        return Shaping.reshape(q, x.shape().dims());
    }

    /** Checks a bit width is in the supported range 2..16, naming {@code what}. */
    static int checkBits(String what, int bits) {
        if (bits < 2 || bits > 16) {
            throw new IllegalArgumentException(what + ": bit width " + bits + " is outside 2..16");
        }
        return bits;
    }
}
