import intactkv.model.LlamaWeights;
import intactkv.quant.PackedCheckpoint;
import intactkv.quant.QuantConfig;
import intactkv.quant.QuantizedModel;
import java.nio.file.Path;
import java.util.Locale;

/**
 * How far apart two quantized checkpoints of the same model are (written by {@code quantize}, e.g. with
 * {@code --calib-activations f64} and {@code f32}): over every decoder linear, the largest
 * {@code |w_a - w_b| / max|w_a|} of its dequantized weights, and the share of weights that moved by more than
 * 1e-3 of the linear's max |w| (a changed code: one 3-bit step is about a seventh of a group's range, while
 * rounding differences in the scales move a weight by about 1e-7 of it). A measurement, not a test:
 *
 * <pre>
 *   java --add-modules jdk.incubator.vector -cp examples/target/intactkv.jar tools/scale/CompareQuantized.java DIR_A DIR_B
 * </pre>
 */
public final class CompareQuantized {
    public static void main(String[] args) throws Exception {
        LlamaWeights a = load(Path.of(args[0]));
        LlamaWeights b = load(Path.of(args[1]));
        double worst = 0;
        long moved = 0;
        long total = 0;
        for (int l = 0; l < a.blocks().size(); l++) {
            for (int j = 0; j < LlamaWeights.LINEAR_NAMES.size(); j++) {
                double[] wa = a.block(l).linears().get(j).data().data();
                double[] wb = b.block(l).linears().get(j).data().data();
                double max = 0;
                for (double v : wa) {
                    max = Math.max(max, Math.abs(v));
                }
                for (int k = 0; k < wa.length; k++) {
                    double d = Math.abs(wa[k] - wb[k]) / max;
                    worst = Math.max(worst, d);
                    if (d > 1e-3) {
                        moved++;
                    }
                }
                total += wa.length;
            }
        }
        System.out.printf(Locale.ROOT, "max |w_a - w_b| / max|w_a| over the linears: %.3e; weights moved (a changed code):"
                + " %d of %d (%.4f %%)%n", worst, moved, total, 100.0 * moved / total);
    }

    private static LlamaWeights load(Path dir) throws Exception {
        QuantConfig c = QuantConfig.read(dir.resolve(QuantizedModel.CONFIG_FILE));
        return LlamaWeights.load(dir, false, PackedCheckpoint.reader(c, true));
    }
}
