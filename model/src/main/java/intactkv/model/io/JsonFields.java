package intactkv.model.io;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Typed, range-checked access to the fields of one JSON object of a file, for the project's
 * parsers. Every getter names the source and the field's dotted path in its error
 * ({@code config.json: field 'num_attention_heads' must be an integer, got true}), so no parser
 * needs to catch Gson's exceptions or guess which field was wrong. Integers are checked against
 * their range before conversion, so a huge number is "too large", never a wrap-around or an
 * allocation of that size.
 */
public final class JsonFields {
    private final Object source;
    private final JsonObject object;
    private final String path;

    JsonFields(Object source, JsonObject object, String path) {
        this.source = source;
        this.object = object;
        this.path = path;
    }

    /** Wraps an already parsed object (for example one element of an array). */
    public static JsonFields of(Object source, JsonElement e, String path) throws FormatException {
        if (e == null || !e.isJsonObject()) {
            throw new FormatException(source, "'" + path + "' must be an object, got " + describe(e));
        }
        return new JsonFields(source, e.getAsJsonObject(), path);
    }

    public Object source() {
        return source;
    }

    /** The dotted path of field {@code key} of this object. */
    public String path(String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    /** The raw object (read-only use). */
    public JsonObject raw() {
        return object;
    }

    public Set<String> keys() {
        return object.keySet();
    }

    /** True when the field is present and not null. */
    public boolean has(String key) {
        return object.has(key) && !object.get(key).isJsonNull();
    }

    /** The raw value of a present field, or an error naming it as missing. */
    public JsonElement required(String key) throws FormatException {
        if (!has(key)) {
            throw missing(key);
        }
        return object.get(key);
    }

    private FormatException missing(String key) {
        return new FormatException(source, "missing field '" + path(key) + "'");
    }

    /** An integer field in [min, max]; {@code dflt} when absent or null (null: required). */
    public int integer(String key, Integer dflt, int min, int max) throws FormatException {
        if (!has(key)) {
            if (dflt == null) {
                throw missing(key);
            }
            return dflt;
        }
        return (int) integerValue(object.get(key), path(key), min, max);
    }

    /** A long field in [min, max]; {@code dflt} when absent. */
    public long longInteger(String key, long dflt, long min, long max) throws FormatException {
        return has(key) ? integerValue(object.get(key), path(key), min, max) : dflt;
    }

    /** {@code e} as an integer in [min, max], the error naming {@code what}. */
    public long integerValue(JsonElement e, String what, long min, long max) throws FormatException {
        BigDecimal v = decimal(e);
        if (v == null || v.signum() != 0 && v.stripTrailingZeros().scale() > 0) {
            throw new FormatException(source, "field '" + what + "' must be an integer, got " + describe(e));
        }
        if (v.compareTo(BigDecimal.valueOf(min)) < 0 || v.compareTo(BigDecimal.valueOf(max)) > 0) {
            throw new FormatException(source, "field '" + what + "' = " + shorten(e.toString()) + " is outside ["
                    + min + ", " + max + "]");
        }
        return v.longValueExact();
    }

    /**
     * A finite number field; {@code dflt} when absent (null: required). An explicit JSON null is
     * refused rather than read as the default: a config that says {@code "rms_norm_eps": null}
     * does not say which epsilon its model was trained with.
     */
    public double number(String key, Double dflt) throws FormatException {
        if (object.has(key) && object.get(key).isJsonNull()) {
            throw new FormatException(source, "field '" + path(key) + "' is null; give a number or leave the field out");
        }
        if (!has(key)) {
            if (dflt == null) {
                throw missing(key);
            }
            return dflt;
        }
        BigDecimal v = decimal(object.get(key));
        double d = v == null ? Double.NaN : v.doubleValue();
        if (!Double.isFinite(d)) {
            throw new FormatException(source, "field '" + path(key) + "' must be a finite number, got "
                    + describe(object.get(key)));
        }
        return d;
    }

    /** A boolean field; {@code dflt} when absent or null (null: required). */
    public boolean bool(String key, Boolean dflt) throws FormatException {
        if (!has(key)) {
            if (dflt == null) {
                throw missing(key);
            }
            return dflt;
        }
        JsonElement e = object.get(key);
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isBoolean()) {
            throw new FormatException(source, "field '" + path(key) + "' must be true or false, got " + describe(e));
        }
        return e.getAsBoolean();
    }

    /** A string field; {@code dflt} when absent or null (null: required). */
    public String string(String key, String dflt) throws FormatException {
        if (!has(key)) {
            if (dflt == null) {
                throw missing(key);
            }
            return dflt;
        }
        return stringValue(object.get(key), path(key));
    }

    /** {@code e} as a string, the error naming {@code what}. */
    public String stringValue(JsonElement e, String what) throws FormatException {
        if (e == null || !e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
            throw new FormatException(source, "field '" + what + "' must be a string, got " + describe(e));
        }
        return e.getAsString();
    }

    /** A required object field. */
    public JsonFields object(String key) throws FormatException {
        return of(source, required(key), path(key));
    }

    /** An object field, or null when absent or null. */
    public JsonFields optionalObject(String key) throws FormatException {
        return has(key) ? object(key) : null;
    }

    /** A required array field. */
    public JsonArray array(String key) throws FormatException {
        JsonElement e = required(key);
        if (!e.isJsonArray()) {
            throw new FormatException(source, "field '" + path(key) + "' must be an array, got " + describe(e));
        }
        return e.getAsJsonArray();
    }

    /** The elements of an array field that must all be objects. */
    public List<JsonFields> objects(String key) throws FormatException {
        JsonArray a = array(key);
        List<JsonFields> out = new ArrayList<>(a.size());
        for (int i = 0; i < a.size(); i++) {
            out.add(of(source, a.get(i), path(key) + "[" + i + "]"));
        }
        return out;
    }

    /** The entries of this object in file order. */
    public Set<Map.Entry<String, JsonElement>> entries() {
        return object.entrySet();
    }

    private static BigDecimal decimal(JsonElement e) {
        if (e == null || !e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
            return null;
        }
        Number n = e.getAsNumber();
        return n instanceof BigDecimal b ? b : new BigDecimal(n.toString());
    }

    /** A value as the error shows it: its JSON text, shortened, or "nothing". */
    static String describe(JsonElement e) {
        return e == null ? "nothing" : shorten(e.toString());
    }

    private static String shorten(String s) {
        return s.length() <= 60 ? s : s.substring(0, 57) + "...";
    }
}
