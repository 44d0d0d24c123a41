import intactkv.quant.Gptq;
import intactkv.quant.WeightQuantizer;
import intactkv.tensor.MatMul;
import intactkv.tensor.Tensor;
import java.util.Locale;
import java.util.Random;

/**
 * Wall time of GPTQ ({@code Gptq.quantizeLayer}: dead columns, act-order, damping, the upper Cholesky factor of
 * H^-1, the column loop with its lazy batch updates) on the seven linears of one TinyLlama-shaped decoder layer
 * (d 2048, d_ff 5632, 4 KV heads of 64), W3 g128, with Hessians {@code (2/N) X^T X} of N = 8192 random tokens
 * (16 x 512, the quantize run's calibration size). Not a test: a measurement, run against any jar of the project
 * (the API used is public and unchanged), e.g. before and after a change:
 *
 * <pre>
 *   java --add-modules jdk.incubator.vector -Xmx6g -cp examples/target/intactkv.jar tools/scale/GptqLayerTiming.java [only]
 * </pre>
 * {@code only} (optional) times just the linears whose input width is {@code only} (2048 or 5632). The seconds
 * printed exclude building the random inputs and their Hessians (one per input width, shared, as q/k/v share
 * theirs in a real layer).
 */
public final class GptqLayerTiming {
    public static void main(String[] args) {
        int only = args.length > 0 ? Integer.parseInt(args[0]) : 0;
        String[] names = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
        int[][] shapes = {{2048, 2048}, {256, 2048}, {256, 2048}, {2048, 2048}, {5632, 2048}, {5632, 2048}, {2048, 5632}};
        Random rnd = new Random(27);
        Tensor h2048 = null;
        Tensor h5632 = null;
        double total = 0;
        WeightQuantizer.Spec spec = WeightQuantizer.Spec.asym(3, 128);
        for (int i = 0; i < names.length; i++) {
            int rows = shapes[i][0];
            int cols = shapes[i][1];
            if (only != 0 && cols != only) {
                continue;
            }
            if (cols == 2048 && h2048 == null) {
                h2048 = hessian(cols, rnd);
            }
            if (cols == 5632 && h5632 == null) {
                h5632 = hessian(cols, rnd);
            }
            Tensor h = cols == 2048 ? h2048 : h5632;
            double[] w = new double[rows * cols];
            for (int k = 0; k < w.length; k++) {
                w[k] = 0.02 * rnd.nextGaussian();
            }
            long t0 = System.nanoTime();
            Tensor q = Gptq.quantizeLayer(Tensor.wrap(w, rows, cols), h, spec, true, names[i]);
            double s = (System.nanoTime() - t0) / 1e9;
            total += s;
            double sum = 0;
            for (double v : q.data()) {
                sum += v;
            }
            System.out.printf(Locale.ROOT, "%-10s (%d, %d): %.2f s (checksum %.6e)%n", names[i], rows, cols, s, sum);
        }
        System.out.printf(Locale.ROOT, "total: %.2f s%n", total);
    }

    /** {@code (2/N) X^T X} for N = 8192 tokens, a few channels much larger (as real activations have). */
    private static Tensor hessian(int cols, Random rnd) {
        int n = 8192;
        double[] x = new double[n * cols];
        for (int t = 0; t < n; t++) {
            for (int c = 0; c < cols; c++) {
                x[t * cols + c] = rnd.nextGaussian() * (c % 97 == 0 ? 20 : 1);
            }
        }
        Tensor xm = Tensor.wrap(x, n, cols);
        return MatMul.matmulTransA(xm, xm).scale(2.0 / n);
    }
}
