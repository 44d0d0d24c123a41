package intactkv.quant;

/**
 * The weight quantizer QuaRot's GPTQ uses ({@code quarot/quant_utils.py::WeightQuantizer},
 * GPTQ's quantizer with QuaRot's symmetric grid), with the MSE clip search that
 * {@code --w_clip} switches on ({@code mse=True}, norm 2.4, grid 100, maxshrink 0.8). Per output
 * row w (over the columns of one group, or all of them per channel), with b bits:
 * <pre>
 *   xmin = min(min w, 0),  xmax = max(max w, 0)
 *   symmetric:  xmax <- max(max(|xmin|, xmax), 1e-5);  s = xmax / (2^(b-1) - 1)
 *               w^ = clamp(rint(w / s), -2^(b-1), 2^(b-1) - 1) s
 *   asymmetric: xmin, xmax <- -1, 1 where both are 0;  s = max(xmax - xmin, 1e-5) / (2^b - 1)
 *               z = rint(-xmin / s);  w^ = (clamp(rint(w / s) + z, 0, 2^b - 1) - z) s
 *   clip search: for i = 0 .. floor(maxshrink * grid) - 1, p = 1 - i / grid:
 *               the same with xmin, xmax scaled by p (no 1e-5 floor), err(p) = sum |w^ - w|^norm;
 *               (s, z) of the first p with the smallest err (strictly smaller replaces)
 * </pre>
 * Scale and zero come out in GPTQ's form, {@link FakeQuant#quantize}{@code (w, s, z, 0, 2^b - 1)}:
 * the symmetric grid is written with {@code z = 2^(b-1)}, which gives exactly the levels above.
 * (AutoGPTQ's symmetric quantizer in {@link Gptq#autoGptq} differs: {@code s = 2 xmax / (2^b - 1)}.)
 *
 * @param bits      b (2..16)
 * @param symmetric symmetric (QuaRot's default) instead of asymmetric ({@code --w_asym})
 * @param mse       the clip search ({@code --w_clip})
 */
public record QuaRotWeightQuantizer(int bits, boolean symmetric, boolean mse) implements Gptq.RowParams {
    /** The exponent of the clip search's error. */
    public static final double NORM = 2.4;
    /** Grid points per unit of shrink. */
    public static final int GRID = 100;
    /** The largest shrink searched: p goes down to {@code 1 - (floor(MAX_SHRINK * GRID) - 1) / GRID}. */
    public static final double MAX_SHRINK = 0.8;

    public QuaRotWeightQuantizer {
        FakeQuant.checkBits("QuaRot weight quantization", bits);
    }

    /** The integer range top {@code 2^b - 1} of the GPTQ form. */
    private double maxq() {
        return Math.pow(2, bits) - 1;
    }

    @Override
    public void find(double[] wt, int rows, int c0, int c1, double[] scale, double[] zero) {
        double[] w = new double[c1 - c0];
        double[] sz = new double[2];
        for (int r = 0; r < rows; r++) {
            for (int c = c0; c < c1; c++) {
                w[c - c0] = wt[c * rows + r];
            }
            row(w, sz);
            scale[r] = sz[0];
            zero[r] = sz[1];
        }
    }

    /** Scale and zero (GPTQ form) of one row {@code w} into {@code sz}; see the class comment. */
    public void row(double[] w, double[] sz) {
        double xmin = 0;
        double xmax = 0;
        for (double v : w) {
            if (!Double.isFinite(v)) {
                throw new IllegalArgumentException("QuaRot weight quantization: non-finite weight " + v);
            }
            xmin = Math.min(xmin, v);
            xmax = Math.max(xmax, v);
        }
        if (symmetric) {
            xmax = Math.max(Math.max(Math.abs(xmin), xmax), 1e-5);
        } else if (xmin == 0 && xmax == 0) {
            xmin = -1;
            xmax = 1;
        }
        params(xmin, xmax, true, sz);
        if (!mse) {
            return;
        }
        double best = Double.POSITIVE_INFINITY;
        double[] trial = new double[2];
        int steps = (int) (MAX_SHRINK * GRID);
        for (int i = 0; i < steps; i++) {
            double p = 1 - (double) i / GRID;
            params(p * xmin, p * xmax, false, trial);
            double err = 0;
            for (double v : w) {
                err += Math.pow(Math.abs(FakeQuant.quantize(v, trial[0], trial[1], 0, maxq()) - v), NORM);
            }
            if (err < best) {
                best = err;
                sz[0] = trial[0];
                sz[1] = trial[1];
            }
        }
    }

    /** (s, z) in GPTQ form from a range; {@code floor} applies the 1e-5 floor of the unsearched parameters. */
    private void params(double xmin, double xmax, boolean floor, double[] sz) {
        if (symmetric) {
            double half = Math.pow(2, bits - 1);
            sz[0] = xmax / (half - 1);
            sz[1] = half;
        } else {
            double range = floor ? Math.max(xmax - xmin, 1e-5) : xmax - xmin;
            sz[0] = range / maxq();
            sz[1] = Math.rint(-xmin / sz[0]);
        }
    }
}
