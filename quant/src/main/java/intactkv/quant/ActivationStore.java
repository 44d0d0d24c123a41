package intactkv.quant;

/**
 * How a quantizer holds the calibration activations it records between layers (the inputs of the
 * decoder layer it is about to quantize, one tensor (1, T, d) per calibration sequence). GPTQ, QuaRot and
 * AWQ keep them for a whole layer's work; for 128 x 2048 tokens of a 7B model they are 8.6 GB per copy in
 * double, 4.3 GB in float.
 *
 * <ul>
 *   <li>{@link #F64}: as computed, in double (the default: every result as before, bit for bit).</li>
 *   <li>{@link #F32}: rounded to float (round to nearest even, Java's {@code (float)} cast) when
 *       recorded and widened back to double (exactly) when read, so the Hessians {@code X^T X}, the
 *       scale searches and the layer outputs are computed in double from F32-rounded inputs. The
 *       official code holds them in fp16 ({@code gptq/llama.py::llama_sequential}'s {@code inps}).</li>
 * </ul>
 */
public enum ActivationStore {
    F64(8),
    F32(4);

    private final int bytes;

    ActivationStore(int bytes) {
        this.bytes = bytes;
    }

    /**
     * Bytes a recorded value takes: what a memory estimate multiplies the recorded values
     * ({@code sequences x tokens x hidden size}, per copy held) by.
     */
    public int bytesPerValue() {
        return bytes;
    }

    /** The flag's spelling: {@code f64} or {@code f32}. */
    public String id() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    /**
     * {@code f64} or {@code f32} (exactly, lower case).
     *
     * @throws IllegalArgumentException for anything else, naming the value and the choices
     */
    public static ActivationStore parse(String s) {
        for (ActivationStore a : values()) {
            if (a.id().equals(s)) {
                return a;
            }
        }
        throw new IllegalArgumentException("must be f64 or f32, got '" + s + "'");
    }
}
