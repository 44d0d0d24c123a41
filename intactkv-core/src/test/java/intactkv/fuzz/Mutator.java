package intactkv.fuzz;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Mutations of valid files, each drawn from a {@link Random}: byte-level (truncate, flip bytes,
 * insert, delete or repeat a range) and, for JSON, tree-level (drop a key, give a key twice,
 * replace a value by a huge, negative, fractional, non-finite or wrong-typed one, remove or
 * append an array element). What each case did is returned with it, so a failure says which
 * mutation broke which parser.
 */
final class Mutator {
    /** A mutated file and what was done to it. */
    record Case(byte[] bytes, String what) {
    }

    /** Replacement values written verbatim into the JSON text (some make it invalid JSON on purpose). */
    static final List<String> VALUES = List.of("1e400", "-1e400", "-1", "0", "0.5", "-0", "1e-400", "1000000000000",
            "9223372036854775808", "-2147483649", "2147483648", "4294967296", "1e15", "NaN", "Infinity", "\"three\"",
            "\"\"", "\"-1\"", "true", "false", "null", "[]", "{}", "[1, 2]", "{\"a\": 1}", "\"\\u0000\"", "\"\\ud800\"");

    private Mutator() {
    }

    /** A byte-level mutation of {@code valid}. */
    static Case bytes(byte[] valid, Random r) {
        int n = valid.length;
        switch (r.nextInt(5)) {
            case 0 -> {
                int at = r.nextInt(n);
                return new Case(Arrays.copyOf(valid, at), "truncated to " + at + " bytes");
            }
            case 1 -> {
                byte[] b = valid.clone();
                int flips = 1 + r.nextInt(3);
                StringBuilder what = new StringBuilder("flipped");
                for (int i = 0; i < flips; i++) {
                    int at = r.nextInt(n);
                    b[at] ^= (byte) (1 << r.nextInt(8));
                    what.append(' ').append(at);
                }
                return new Case(b, what.toString());
            }
            case 2 -> {
                int at = r.nextInt(n + 1);
                byte[] ins = new byte[1 + r.nextInt(4)];
                r.nextBytes(ins);
                byte[] b = new byte[n + ins.length];
                System.arraycopy(valid, 0, b, 0, at);
                System.arraycopy(ins, 0, b, at, ins.length);
                System.arraycopy(valid, at, b, at + ins.length, n - at);
                return new Case(b, "inserted " + ins.length + " bytes at " + at);
            }
            case 3 -> {
                int at = r.nextInt(n);
                int len = 1 + r.nextInt(Math.min(16, n - at));
                byte[] b = new byte[n - len];
                System.arraycopy(valid, 0, b, 0, at);
                System.arraycopy(valid, at + len, b, at, n - at - len);
                return new Case(b, "deleted " + len + " bytes at " + at);
            }
            default -> {
                int at = r.nextInt(n);
                int len = 1 + r.nextInt(Math.min(16, n - at));
                byte[] b = new byte[n + len];
                System.arraycopy(valid, 0, b, 0, at + len);
                System.arraycopy(valid, at, b, at + len, n - at);
                return new Case(b, "repeated " + len + " bytes at " + at);
            }
        }
    }

    /** A tree-level mutation of the JSON document {@code valid} (or, one time in four, a byte-level one). */
    static Case json(String valid, Random r) {
        if (r.nextInt(4) == 0) {
            return bytes(valid.getBytes(StandardCharsets.UTF_8), r);
        }
        JsonElement root = JsonParser.parseString(valid);
        List<Object[]> places = new ArrayList<>(); // {parent, key or index, path}
        collect(root, "$", places);
        Object[] place = places.get(r.nextInt(places.size()));
        String path = (String) place[2];
        StringBuilder out = new StringBuilder();
        String what;
        int kind = r.nextInt(place[0] instanceof JsonObject ? 3 : 3);
        if (kind == 0 && place[0] instanceof JsonObject o) {
            o.remove((String) place[1]);
            what = "dropped " + path;
            write(root, out, null, null);
        } else if (kind == 1 && place[0] instanceof JsonObject o) {
            what = "gave " + path + " twice";
            write(root, out, o, (String) place[1]);
        } else if (kind == 1 && place[0] instanceof JsonArray a) {
            a.add(a.get((Integer) place[1]).deepCopy());
            what = "appended a copy of " + path;
            write(root, out, null, null);
        } else if (kind == 0 && place[0] instanceof JsonArray a) {
            a.remove((int) (Integer) place[1]);
            what = "removed " + path;
            write(root, out, null, null);
        } else {
            String v = VALUES.get(r.nextInt(VALUES.size()));
            JsonPrimitive raw = new JsonPrimitive(RAW + v);
            if (place[0] instanceof JsonObject o) {
                o.add((String) place[1], raw);
            } else {
                ((JsonArray) place[0]).set((Integer) place[1], raw);
            }
            what = "set " + path + " to " + v;
            write(root, out, null, null);
        }
        return new Case(out.toString().getBytes(StandardCharsets.UTF_8), what);
    }

    private static final String RAW = "\u0000raw:";

    private static void collect(JsonElement e, String path, List<Object[]> places) {
        if (e.isJsonObject()) {
            for (Map.Entry<String, JsonElement> kv : e.getAsJsonObject().entrySet()) {
                String p = path + "." + kv.getKey();
                places.add(new Object[] {e, kv.getKey(), p});
                collect(kv.getValue(), p, places);
            }
        } else if (e.isJsonArray()) {
            JsonArray a = e.getAsJsonArray();
            for (int i = 0; i < a.size(); i++) {
                String p = path + "[" + i + "]";
                places.add(new Object[] {a, i, p});
                collect(a.get(i), p, places);
            }
        }
    }

    /** Serializes {@code e}; in object {@code dupIn}, key {@code dupKey} is written twice; RAW strings verbatim. */
    private static void write(JsonElement e, StringBuilder out, JsonObject dupIn, String dupKey) {
        if (e.isJsonObject()) {
            out.append('{');
            boolean first = true;
            for (Map.Entry<String, JsonElement> kv : e.getAsJsonObject().entrySet()) {
                int times = e == dupIn && kv.getKey().equals(dupKey) ? 2 : 1;
                for (int i = 0; i < times; i++) {
                    out.append(first ? "" : ",").append(new JsonPrimitive(kv.getKey())).append(':');
                    write(kv.getValue(), out, dupIn, dupKey);
                    first = false;
                }
            }
            out.append('}');
        } else if (e.isJsonArray()) {
            out.append('[');
            JsonArray a = e.getAsJsonArray();
            for (int i = 0; i < a.size(); i++) {
                out.append(i == 0 ? "" : ",");
                write(a.get(i), out, dupIn, dupKey);
            }
            out.append(']');
        } else if (e.isJsonPrimitive() && e.getAsJsonPrimitive().isString() && e.getAsString().startsWith(RAW)) {
            out.append(e.getAsString().substring(RAW.length()));
        } else {
            out.append(e);
        }
    }
}
