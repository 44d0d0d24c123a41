// Quantize -> dequantize error of each ggml type on TinyLlama-shaped rows (docs/GGUF.md, "Numerics").
// Run from a checkout whose GgmlQuantize has every type, after `mvn -B -o -DskipTests package`:
//   jshell --class-path model/target/classes:tensor/target/classes tools/gguf/method_numerics.jsh
// Rows: 64 x 2048 (attn_q / ffn_gate rows of TinyLlama-1.1B) and 64 x 5632 (ffn_down rows), N(0, 0.02^2),
// java.util.Random(29), rounded to float. Per (sub-)block of the type: the ideal b-bit grid over the block's
// range has step s = (max - min) / (2^b - 1); reported: max |err| / s, RMS err / (s / sqrt 12) (uniform
// noise of that grid), and, for the legacy types, max |err| against their bound from the format.
import intactkv.model.gguf.*;
import intactkv.tensor.HalfFloat;
import java.nio.*;

float[] rows(int n, int cols, long seed) {
    java.util.Random r = new java.util.Random(seed);
    float[] x = new float[n * cols];
    for (int i = 0; i < x.length; i++) x[i] = (float) (0.02 * r.nextGaussian());
    return x;
}
double h(double d) { return HalfFloat.fromFp16Bits(HalfFloat.toFp16Bits(d)); }
void report(GgmlType t, int sub, int bits, float[] x, int cols) {
    byte[] q = GgmlQuantize.quantize(t, x, x.length / cols, cols);
    float[] y = Dequantize.toFloats(t, ByteBuffer.wrap(q).order(ByteOrder.LITTLE_ENDIAN), x.length);
    double worstStep = 0, sumSq = 0, sumIdeal = 0, worstBound = 0;
    int blk = t.blockSize();
    for (int b0 = 0; b0 < x.length; b0 += sub) {
        double mx = -1e30, mn = 1e30;
        for (int i = b0; i < b0 + sub; i++) { mx = Math.max(mx, x[i]); mn = Math.min(mn, x[i]); }
        double s = (mx - mn) / ((1 << bits) - 1);
        for (int i = b0; i < b0 + sub; i++) {
            double e = Math.abs(x[i] - y[i]);
            worstStep = Math.max(worstStep, e / s);
            sumSq += e * e;
        }
        sumIdeal += sub * s * s / 12;
    }
    // the legacy formats' bounds (ggml-quants.c quantize_row_*_ref), per block of 32, fp16 scale rounding included
    for (int b0 = 0; b0 < x.length && blk == 32; b0 += 32) {
        double amax = 0, signedMax = 0, mx = -1e30, mn = 1e30, worst = 0;
        for (int i = b0; i < b0 + 32; i++) {
            if (Math.abs(x[i]) > amax) { amax = Math.abs(x[i]); signedMax = x[i]; }
            mx = Math.max(mx, x[i]); mn = Math.min(mn, x[i]);
            worst = Math.max(worst, Math.abs(x[i] - y[i]));
        }
        double bound = switch (t) {
            case Q8_0 -> { double d = amax / 127; yield d / 2 + 127 * Math.abs(d - h(d)); }
            case Q4_0 -> { double d = Math.abs(signedMax) / 8; yield d + 8 * Math.abs(d - h(d)); }
            case Q5_0 -> { double d = Math.abs(signedMax) / 16; yield d + 16 * Math.abs(d - h(d)); }
            case Q4_1 -> { double d = (mx - mn) / 15; yield d / 2 + 15 * Math.abs(d - h(d)) + Math.abs(mn - h(mn)); }
            case Q5_1 -> { double d = (mx - mn) / 31; yield d / 2 + 31 * Math.abs(d - h(d)) + Math.abs(mn - h(mn)); }
            default -> Double.NaN;
        };
        worstBound = Math.max(worstBound, worst / (bound * (1 + 1e-6)));
    }
    System.out.printf("| %-5s | %5d | %2d | %2d | %.3f | %.3f | %s |%n", t, cols, sub, bits, worstStep,
            Math.sqrt(sumSq / sumIdeal), blk == 32 ? String.format("%.5f", worstBound) : "-");
}
System.out.println("| type | row | sub-block | bits | max err / step | RMS err / (step/sqrt12) | max err / format bound |");
System.out.println("|---|---|---|---|---|---|---|");
for (int cols : new int[] {2048, 5632}) {
    float[] x = rows(64, cols, 29);
    report(GgmlType.Q8_0, 32, 8, x, cols);
    report(GgmlType.Q5_1, 32, 5, x, cols);
    report(GgmlType.Q5_0, 32, 5, x, cols);
    report(GgmlType.Q4_1, 32, 4, x, cols);
    report(GgmlType.Q4_0, 32, 4, x, cols);
    report(GgmlType.Q6_K, 16, 6, x, cols);
    report(GgmlType.Q5_K, 32, 5, x, cols);
    report(GgmlType.Q4_K, 32, 4, x, cols);
    report(GgmlType.Q3_K, 16, 3, x, cols);
    report(GgmlType.Q2_K, 16, 2, x, cols);
}
/exit
