package intactkv.tensor;

/**
 * A weight held as float32, 4 bytes an element, on the heap as a {@code float[]} (why not
 * memory-mapped: {@link Bf16Storage}). Widening a float to double is exact.
 */
public final class F32Storage implements WeightStorage {
    private final float[] values;

    /** Wraps {@code values} (not copied; not modified afterwards by this class). */
    public F32Storage(float[] values) {
        this.values = values;
    }

    @Override
    public int size() {
        return values.length;
    }

    @Override
    public void toDouble(int from, int count, double[] dst, int dstOff) {
        for (int i = 0; i < count; i++) {
            dst[dstOff + i] = values[from + i];
        }
    }

    @Override
    public long bytes() {
        return 4L * values.length;
    }

    @Override
    public String describe() {
        return "F32";
    }
}
