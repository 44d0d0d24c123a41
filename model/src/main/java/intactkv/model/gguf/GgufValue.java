package intactkv.model.gguf;

/**
 * The value types of GGUF metadata ({@code enum gguf_type} in ggml/include/gguf.h; gguf-py
 * {@code GGUFValueType}), with the bytes one element takes (strings: at least their 8-byte
 * length; arrays: at least their 4-byte type and 8-byte count), which bounds an array's count
 * by the bytes left in the file before anything is allocated.
 */
enum GgufValue {
    UINT8(1), INT8(1), UINT16(2), INT16(2), UINT32(4), INT32(4), FLOAT32(4), BOOL(1), STRING(8), ARRAY(12),
    UINT64(8), INT64(8), FLOAT64(8);

    final int minBytes;

    GgufValue(int minBytes) {
        this.minBytes = minBytes;
    }

    /** The type with id {@code id} (its ordinal), or null. */
    static GgufValue of(int id) {
        return id >= 0 && id < values().length ? values()[id] : null;
    }

    boolean isInteger() {
        return switch (this) {
            case UINT8, INT8, UINT16, INT16, UINT32, INT32, UINT64, INT64 -> true;
            default -> false;
        };
    }
}
