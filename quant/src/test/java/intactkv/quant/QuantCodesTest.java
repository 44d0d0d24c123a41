package intactkv.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import intactkv.model.io.CheckpointReader;
import intactkv.model.io.SafetensorsReader;
import intactkv.model.io.SafetensorsWriter;
import intactkv.tensor.Shape;
import intactkv.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link QuantCodes} held as a bit stream: every width 2..16 ({@link FakeQuant#checkBits}) on sizes whose codes do
 * not fill whole words (1 x 1, one column, rows x cols with a code split across two words), against the offsets
 * that were put and the element-by-element formula {@code (offset + qmin - z) * s}; tolerance 0 throughout (the
 * codes are integers and the decode is the same arithmetic, so any difference is a decoding error).
 */
class QuantCodesTest {
    /** (rows, cols): a single code, one column, one row, and sizes that end mid-word for most widths. */
    private static final int[][] SIZES = {{1, 1}, {7, 1}, {1, 13}, {5, 13}, {3, 22}, {11, 21}, {9, 64}, {17, 33}};

    @TempDir
    Path tmp;

    /** Random codes of one weight: offsets, groups of {@code g} consecutive columns (or act-order ones), scales, zeros. */
    private record Case(int rows, int cols, int bits, int qmin, int groups, int[] offsets, double[] scales,
                        double[] zeros, int[] groupOf) {
        static Case random(Random rng, int rows, int cols, int bits, int g, boolean permuted) {
            int groups = cols / g;
            int[] offsets = new int[rows * cols];
            for (int i = 0; i < offsets.length; i++) {
                // the extremes (0 and 2^bits - 1, all bits set) as often as the rest, so every bit of a word is exercised
                int pick = rng.nextInt(4);
                offsets[i] = pick == 0 ? 0 : pick == 1 ? (1 << bits) - 1 : rng.nextInt(1 << bits);
            }
            double[] scales = new double[rows * groups];
            double[] zeros = new double[rows * groups];
            for (int i = 0; i < scales.length; i++) {
                scales[i] = 0.01 + rng.nextDouble();
                zeros[i] = rng.nextInt(1 << bits);
            }
            int[] groupOf = QuantCodes.Builder.consecutive(cols, g);
            if (permuted) {
                shuffle(groupOf, rng);
            }
            int qmin = rng.nextBoolean() ? 0 : -(1 << (bits - 1));
            return new Case(rows, cols, bits, qmin, groups, offsets, scales, zeros, groupOf);
        }

        QuantCodes codes() {
            return new QuantCodes(rows, cols, bits, qmin, groups, offsets.clone(), scales, zeros, groupOf);
        }

        /** Element i's double by the formula, from the offset that was put (not through the storage). */
        double value(int i) {
            int at = (i / cols) * groups + groupOf[i % cols];
            return FakeQuant.dequantize(offsets[i] + qmin, scales[at], zeros[at]);
        }
    }

    private static void shuffle(int[] a, Random rng) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }

    /** A group size that divides {@code cols}: the largest of 4, 3, 1 that does (one group a row for prime widths). */
    private static int groupFor(int cols) {
        return cols % 4 == 0 ? 4 : cols % 3 == 0 ? 3 : cols;
    }

    @Test
    void everyWidthRoundTripsItsOffsetsAndCountsItsBytes() {
        Random rng = new Random(27);
        for (int bits = 2; bits <= 16; bits++) {
            for (int[] rc : SIZES) {
                Case k = Case.random(rng, rc[0], rc[1], bits, groupFor(rc[1]), bits % 2 == 0);
                QuantCodes q = k.codes();
                String what = bits + " bits, " + rc[0] + " x " + rc[1];
                for (int i = 0; i < k.offsets.length; i++) {
                    assertEquals(k.offsets[i], q.offset(i), what + ", element " + i);
                }
                long n = (long) rc[0] * rc[1];
                long words = (n * bits + 63) / 64;
                assertEquals(words, q.words().length, what);
                assertEquals(8 * words + 16L * rc[0] * k.groups + 4L * rc[1], q.bytes(), what);
                long used = n * bits;
                if (used % 64 != 0) {
                    assertEquals(0, q.words()[(int) words - 1] >>> (used % 64), what + ": bits after the last code");
                }
            }
        }
    }

    @Test
    void bytesAreTheBitWidthOverEightPerCode() {
        // 5632 x 2048, g128 (a 7B-sized gate_proj cut to K 2048): codes bits/8 a code, plus 16 bytes a group, 4 a column
        int rows = 5632;
        int cols = 2048;
        for (int bits : new int[] {2, 3, 4, 8, 16}) {
            long codes = (long) rows * cols * bits / 8;
            QuantCodes q = QuantCodes.ofWords(rows, cols, bits, 0, cols / 128,
                    new long[QuantCodes.words((long) rows * cols, bits)], new double[rows * 16], new double[rows * 16],
                    QuantCodes.Builder.consecutive(cols, 128));
            assertEquals(codes + 16L * rows * 16 + 4L * cols, q.bytes(), bits + " bits");
        }
    }

    @Test
    void toDoubleOfAnyWindowIsTheFormulaElementByElement() {
        Random rng = new Random(28);
        for (int bits = 2; bits <= 16; bits++) {
            for (int[] rc : SIZES) {
                Case k = Case.random(rng, rc[0], rc[1], bits, groupFor(rc[1]), bits % 3 == 0);
                QuantCodes q = k.codes();
                int n = k.offsets.length;
                double[] want = new double[n];
                for (int i = 0; i < n; i++) {
                    want[i] = k.value(i);
                }
                double[] all = new double[n];
                q.toDouble(0, n, all, 0);
                assertArrayEquals(want, all, 0.0, bits + " bits, " + rc[0] + " x " + rc[1] + ", whole");
                for (int t = 0; t < 40; t++) {
                    int from = rng.nextInt(n + 1);
                    int count = rng.nextInt(n - from + 1);
                    int dstOff = rng.nextInt(3);
                    double[] dst = new double[dstOff + count + 2];
                    java.util.Arrays.fill(dst, -7.5);
                    q.toDouble(from, count, dst, dstOff);
                    String what = bits + " bits, " + rc[0] + " x " + rc[1] + ", [" + from + ", " + (from + count) + ")";
                    for (int i = 0; i < dst.length; i++) {
                        double expect = i >= dstOff && i < dstOff + count ? want[from + i - dstOff] : -7.5;
                        assertEquals(expect, dst[i], 0.0, what + " at dst " + i);
                    }
                }
            }
        }
    }

    @Test
    void builderTakesCodesInAnyColumnOrder() {
        Random rng = new Random(29);
        for (int bits = 2; bits <= 16; bits++) {
            for (int[] rc : SIZES) {
                int rows = rc[0];
                int cols = rc[1];
                Case k = Case.random(rng, rows, cols, bits, groupFor(cols), true);
                int[] perm = new int[cols];
                for (int c = 0; c < cols; c++) {
                    perm[c] = c;
                }
                shuffle(perm, rng);
                QuantCodes.Builder b = new QuantCodes.Builder(rows, cols, bits, k.qmin, k.groups, k.groupOf);
                for (int r = 0; r < rows; r++) {
                    for (int g = 0; g < k.groups; g++) {
                        b.params(r, g, k.scales[r * k.groups + g], k.zeros[r * k.groups + g]);
                    }
                }
                double[] dense = new double[rows * cols];
                for (int c = 0; c < cols; c++) { // as GPTQ: column perm[c] of every row, then the next column
                    for (int r = 0; r < rows; r++) {
                        int col = perm[c];
                        int i = r * cols + col;
                        if (c == 0) { // a first, different code in the same place: put again must replace it
                            b.put(r, col, k.qmin + ((1 << bits) - 1 - k.offsets[i]));
                        }
                        dense[i] = b.put(r, col, k.offsets[i] + k.qmin);
                        assertEquals(k.value(i), dense[i], 0.0);
                    }
                }
                Tensor built = b.build(Tensor.wrap(dense, rows, cols));
                QuantCodes q = assertInstanceOf(QuantCodes.class, built.storage());
                String what = bits + " bits, " + rows + " x " + cols;
                for (int i = 0; i < dense.length; i++) {
                    assertEquals(k.offsets[i], q.offset(i), what + ", element " + i);
                }
                double[] got = new double[dense.length];
                q.toDouble(0, got.length, got, 0);
                assertArrayEquals(dense, got, 0.0, what);
            }
        }
    }

    @Test
    void anOutOfRangeCodeKeepsTheDenseDoublesAndOffsetsAreChecked() {
        QuantCodes.Builder b = new QuantCodes.Builder(2, 3, 3, 0, 1, new int[3]);
        b.params(0, 0, 0.5, 1);
        b.params(1, 0, 0.5, 1);
        b.put(0, 0, 8); // 3-bit offsets end at 7
        Tensor dense = Tensor.wrap(new double[6], 2, 3);
        assertSame(dense, b.build(dense));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new QuantCodes(1, 2, 4, 0, 1,
                new int[] {3, 16}, new double[] {1}, new double[] {0}, new int[2]));
        assertEquals("quantization code offset 16 of element 1 is outside [0, 16) for 4-bit codes", e.getMessage());
    }

    /**
     * The file keeps its layout: {@code P.qcodes} is the 32-bit stream a code-by-code packing gives (the writer
     * before codes were packed in memory, reproduced here) for every width, and reading it back gives the same codes
     * for every width a quantizer writes (2..15).
     */
    @Test
    void packedCheckpointWordsAreTheCodeByCodeStream() throws IOException {
        Random rng = new Random(30);
        for (int bits = 2; bits <= 16; bits++) {
            int rows = 3 + rng.nextInt(5);
            int cols = 4 * (1 + rng.nextInt(9));
            Case k = Case.random(rng, rows, cols, bits, 4, false);
            Tensor t = k.codes().tensor();
            SafetensorsWriter w = new SafetensorsWriter();
            PackedCheckpoint.put(w, "l.weight", t);
            Path dir = tmp.resolve("w" + bits);
            java.nio.file.Files.createDirectories(dir);
            w.write(dir.resolve("model.safetensors"));
            long[] want = codeByCode(k.offsets, bits);
            try (SafetensorsReader r = SafetensorsReader.open(dir.resolve("model.safetensors"))) {
                long[] got = r.readLongs("l.qcodes");
                assertEquals(want.length, got.length, bits + " bits");
                for (int i = 0; i < want.length; i++) {
                    assertEquals(want[i], (int) got[i], bits + " bits, word " + i);
                }
            }
            if (bits == 16) {
                continue; // no config quantizes at 16 bits (QuantConfig refuses it), so no file is read at 16: words checked above
            }
            QuantConfig config = new QuantConfig(Method.RTN, WeightQuantizer.Spec.asym(bits, 4),
                    QuantConfig.OFF, QuantConfig.OFF, 0);
            try (CheckpointReader r = CheckpointReader.open(dir)) {
                Tensor back = PackedCheckpoint.reader(config, true).read(r, "l.weight", Shape.of(rows, cols));
                QuantCodes q = assertInstanceOf(QuantCodes.class, back.storage());
                for (int i = 0; i < k.offsets.length; i++) {
                    assertEquals(k.offsets[i], q.offset(i), bits + " bits, element " + i);
                }
                assertArrayEquals(t.data(), back.data(), 0.0, bits + " bits");
            }
        }
    }

    /** The 32-bit words of the file, packed one code at a time: code i at bits [i * bits, (i + 1) * bits), low first. */
    private static long[] codeByCode(int[] offsets, int bits) {
        int[] packed = new int[(int) (((long) offsets.length * bits + 31) / 32)];
        for (int i = 0; i < offsets.length; i++) {
            long bit = (long) i * bits;
            int word = (int) (bit >>> 5);
            int shift = (int) (bit & 31);
            packed[word] |= offsets[i] << shift;
            if (shift + bits > 32) {
                packed[word + 1] |= offsets[i] >>> (32 - shift);
            }
        }
        long[] out = new long[packed.length];
        for (int i = 0; i < packed.length; i++) {
            out[i] = packed[i];
        }
        return out;
    }
}
