package intactkv.model.io;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import java.io.IOException;
import java.io.StringReader;
import java.math.BigDecimal;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Strict JSON for the project's parsers: UTF-8 decoded with errors reported (never replaced),
 * RFC 8259 syntax only (no NaN, comments or trailing text), nesting at most {@value #MAX_DEPTH}
 * deep, and a key given twice in one object refused, since which of the two a reader takes is
 * not defined by the format. Numbers are kept as their decimal literal ({@link BigDecimal}), so
 * that {@link JsonFields} can tell 10^12 (too large) from "not an integer". Every failure is a
 * {@link FormatException} naming the source.
 */
public final class JsonFile {
    /** Deepest nesting accepted (tokenizer.json, the deepest file read, nests about 6 deep). */
    public static final int MAX_DEPTH = 64;

    private JsonFile() {
    }

    /** Reads {@code file} as UTF-8 and parses it; the root must be an object. */
    public static JsonFields read(Path file) throws IOException {
        return parse(Utf8.read(file), file);
    }

    /** Parses {@code json}; the root must be an object. */
    public static JsonFields parse(String json, Object source) throws FormatException {
        JsonReader r = new JsonReader(new StringReader(json));
        r.setStrictness(Strictness.STRICT);
        try {
            if (r.peek() != JsonToken.BEGIN_OBJECT) {
                throw new FormatException(source, "not a JSON object (the file starts with " + r.peek() + ")");
            }
            JsonObject root = (JsonObject) value(r, source, "", 0);
            if (r.peek() != JsonToken.END_DOCUMENT) {
                throw new FormatException(source, "text after the JSON object " + r.getPath());
            }
            return new JsonFields(source, root, "");
        } catch (FormatException e) {
            throw e;
        } catch (IOException | IllegalStateException | NumberFormatException e) {
            throw new FormatException(source, "not valid JSON: " + gsonMessage(e), e);
        }
    }

    /**
     * Parses {@code json} whose root is an array of objects (a ShareGPT file, for example); the
     * i-th element's fields are named {@code [i].key} in errors.
     */
    public static List<JsonFields> parseArray(String json, Object source) throws FormatException {
        JsonReader r = new JsonReader(new StringReader(json));
        r.setStrictness(Strictness.STRICT);
        try {
            if (r.peek() != JsonToken.BEGIN_ARRAY) {
                throw new FormatException(source, "not a JSON array (the file starts with " + r.peek() + ")");
            }
            JsonArray root = (JsonArray) value(r, source, "", 0);
            if (r.peek() != JsonToken.END_DOCUMENT) {
                throw new FormatException(source, "text after the JSON array " + r.getPath());
            }
            List<JsonFields> out = new ArrayList<>(root.size());
            for (int i = 0; i < root.size(); i++) {
                out.add(JsonFields.of(source, root.get(i), "[" + i + "]"));
            }
            return out;
        } catch (FormatException e) {
            throw e;
        } catch (IOException | IllegalStateException | NumberFormatException e) {
            throw new FormatException(source, "not valid JSON: " + gsonMessage(e), e);
        }
    }

    /**
     * Gson's syntax message without its advice to parse leniently and its link: "Expected ':' at
     * line 1 column 7 path $.a", or "a value JSON does not allow (NaN, a bare word, ...)" for the
     * lenient-only case.
     */
    static String gsonMessage(Exception e) {
        String m = String.valueOf(e.getMessage());
        int see = m.indexOf("\nSee https://");
        if (see >= 0) {
            m = m.substring(0, see);
        }
        return m.replace("Use JsonReader.setStrictness(Strictness.LENIENT) to accept malformed JSON",
                "a value JSON does not allow (NaN, Infinity, a bare word or a comment)");
    }

    private static JsonElement value(JsonReader r, Object source, String path, int depth) throws IOException {
        if (depth > MAX_DEPTH) {
            throw new FormatException(source, "JSON nested more than " + MAX_DEPTH + " deep at " + r.getPath());
        }
        switch (r.peek()) {
            case BEGIN_OBJECT -> {
                JsonObject o = new JsonObject();
                r.beginObject();
                while (r.hasNext()) {
                    String key = r.nextName();
                    String at = path.isEmpty() ? key : path + "." + key;
                    if (o.has(key)) {
                        throw new FormatException(source, "field '" + at + "' is given twice");
                    }
                    o.add(key, value(r, source, at, depth + 1));
                }
                r.endObject();
                return o;
            }
            case BEGIN_ARRAY -> {
                JsonArray a = new JsonArray();
                r.beginArray();
                while (r.hasNext()) {
                    a.add(value(r, source, path + "[" + a.size() + "]", depth + 1));
                }
                r.endArray();
                return a;
            }
            case STRING -> {
                return new JsonPrimitive(r.nextString());
            }
            case NUMBER -> {
                return new JsonPrimitive(new BigDecimal(r.nextString()));
            }
            case BOOLEAN -> {
                return new JsonPrimitive(r.nextBoolean());
            }
            case NULL -> {
                r.nextNull();
                return JsonNull.INSTANCE;
            }
            default -> throw new FormatException(source, "unexpected " + r.peek() + " at " + r.getPath());
        }
    }
}
