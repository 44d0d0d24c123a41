package intactkv.model.io;

/** The safetensors element types this project reads and writes. */
public enum DType {
    F64(8), F32(4), F16(2), BF16(2), I64(8), I32(4);

    private final int bytes;

    DType(int bytes) {
        this.bytes = bytes;
    }

    /** Size of one element in bytes. */
    public int bytes() {
        return bytes;
    }

    /** Whether the type holds integers. */
    public boolean isInteger() {
        return this == I64 || this == I32;
    }

    /** The type named {@code name} in a safetensors header, or an error naming the file and tensor. */
    public static DType parse(String name, String file, String tensor) {
        for (DType t : values()) {
            if (t.name().equals(name)) {
                return t;
            }
        }
        throw new IllegalArgumentException(file + ": tensor '" + tensor + "' has unsupported dtype '" + name
                + "' (supported: F64, F32, F16, BF16, I64, I32)");
    }
}
