package intactkv.model.gguf;

/**
 * A metadata array: its element type and its elements, held compactly: {@code long[]} for the
 * integer types (UINT64 above 2^63 - 1 wraps, as Java's long; {@link GgufFile} refuses such values
 * where it reads them as sizes), {@code double[]} for FLOAT32 (widened exactly) and FLOAT64,
 * {@code boolean[]}, or {@code String[]}. Arrays of arrays are refused when read.
 */
public record GgufArray(String type, Object values) {
    /** The number of elements. */
    public int length() {
        return java.lang.reflect.Array.getLength(values);
    }

    @Override
    public String toString() {
        return "array of " + length() + " " + type;
    }
}
