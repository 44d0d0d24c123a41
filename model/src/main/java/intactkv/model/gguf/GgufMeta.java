package intactkv.model.gguf;

import intactkv.model.io.FormatException;
import java.util.Map;

/**
 * Typed access to a GGUF file's metadata, each refusal a {@link FormatException} naming the file
 * and the key (the GGUF counterpart of {@code JsonFields}).
 */
final class GgufMeta {
    private final GgufFile f;
    private final Map<String, Object> m;

    GgufMeta(GgufFile f) {
        this.f = f;
        this.m = f.metadata();
    }

    boolean has(String key) {
        return m.containsKey(key);
    }

    /** Integer {@code key} in [min, max]; {@code dflt} when absent (null: required). */
    long integer(String key, Long dflt, long min, long max) throws FormatException {
        Object v = m.get(key);
        if (v == null) {
            if (dflt == null) {
                throw new FormatException(f.file(), "missing metadata key '" + key + "'");
            }
            return dflt;
        }
        if (!(v instanceof Long l)) {
            throw new FormatException(f.file(), "metadata key '" + key + "' must be an integer, got " + describe(v));
        }
        if (l < min || l > max) {
            throw new FormatException(f.file(), "metadata key '" + key + "' = " + l + " is outside [" + min + ", " + max
                    + "]");
        }
        return l;
    }

    /**
     * Number {@code key} (float or integer), finite and &gt; 0; {@code dflt} when absent (null:
     * required). A FLOAT32 value is read as the shortest decimal that rounds to it.
     */
    double positive(String key, Double dflt) throws FormatException {
        Object v = m.get(key);
        if (v == null) {
            if (dflt == null) {
                throw new FormatException(f.file(), "missing metadata key '" + key + "'");
            }
            return dflt;
        }
        double d;
        if (v instanceof Float x) {
            // the shortest decimal that rounds to this float (Float.toString): the converter wrote
            // config.json's decimal (rms_norm_eps 1e-5) as float32, and the model is that decimal
            d = Double.parseDouble(Float.toString(x));
        } else if (v instanceof Double x) {
            d = x;
        } else if (v instanceof Long l) {
            d = l;
        } else {
            throw new FormatException(f.file(), "metadata key '" + key + "' must be a number, got " + describe(v));
        }
        if (!(d > 0) || Double.isInfinite(d)) {
            throw new FormatException(f.file(), "metadata key '" + key + "' = " + d + " must be finite and > 0");
        }
        return d;
    }

    /** String {@code key}; {@code dflt} when absent (null: required). */
    String string(String key, String dflt) throws FormatException {
        Object v = m.get(key);
        if (v == null) {
            if (dflt == null) {
                throw new FormatException(f.file(), "missing metadata key '" + key + "'");
            }
            return dflt;
        }
        if (!(v instanceof String s)) {
            throw new FormatException(f.file(), "metadata key '" + key + "' must be a string, got " + describe(v));
        }
        return s;
    }

    /** Boolean {@code key}; {@code dflt} when absent. */
    boolean bool(String key, boolean dflt) throws FormatException {
        Object v = m.get(key);
        if (v == null) {
            return dflt;
        }
        if (!(v instanceof Boolean b)) {
            throw new FormatException(f.file(), "metadata key '" + key + "' must be a bool, got " + describe(v));
        }
        return b;
    }

    /** Array {@code key} of element kind {@code kind} (a Java array class); null when absent and not required. */
    <T> T array(String key, Class<T> kind, String kindName, boolean required) throws FormatException {
        Object v = m.get(key);
        if (v == null) {
            if (required) {
                throw new FormatException(f.file(), "missing metadata key '" + key + "'");
            }
            return null;
        }
        if (!(v instanceof GgufArray a) || !kind.isInstance(a.values())) {
            throw new FormatException(f.file(), "metadata key '" + key + "' must be an array of " + kindName + ", got "
                    + describe(v));
        }
        return kind.cast(a.values());
    }

    static String describe(Object v) {
        if (v instanceof String s) {
            return "the string \"" + (s.length() > 40 ? s.substring(0, 37) + "..." : s) + "\"";
        }
        return v instanceof GgufArray ? "an " + v : String.valueOf(v);
    }
}
