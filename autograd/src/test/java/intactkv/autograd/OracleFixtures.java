package intactkv.autograd;

import intactkv.tensor.Tensor;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Reader of the text fixtures written by {@code tools/oracle/foundation_fixtures.py} (format
 * in that script's docstring). Values are Python {@code repr()} of doubles, which
 * {@link Double#parseDouble} reads back exactly.
 */
final class OracleFixtures {
    /** One case: named tensors and integer lists. */
    record Case(String name, Map<String, Tensor> tensors, Map<String, int[]> ints) {
        Tensor t(String key) {
            Tensor t = tensors.get(key);
            if (t == null) {
                throw new IllegalArgumentException("fixture case " + name + " has no tensor " + key);
            }
            return t;
        }
    }

    private OracleFixtures() {
    }

    static Map<String, Case> load(String resource) throws IOException {
        Map<String, Case> cases = new LinkedHashMap<>();
        try (InputStream in = Objects.requireNonNull(OracleFixtures.class.getResourceAsStream(resource), resource);
             BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            String line;
            Case cur = null;
            int lineNo = 0;
            while ((line = r.readLine()) != null) {
                lineNo++;
                if (line.isEmpty() || line.startsWith("#")) {
                    continue;
                }
                String[] f = line.split(" ");
                switch (f[0]) {
                    case "case" -> cur = new Case(f[1], new LinkedHashMap<>(), new LinkedHashMap<>());
                    case "end" -> cases.put(cur.name(), cur);
                    case "ints" -> {
                        int[] v = new int[f.length - 2];
                        for (int i = 0; i < v.length; i++) {
                            v[i] = Integer.parseInt(f[i + 2]);
                        }
                        cur.ints().put(f[1], v);
                    }
                    case "tensor" -> {
                        int[] dims = f[2].equals("-") ? new int[0]
                                : java.util.Arrays.stream(f[2].split(",")).mapToInt(Integer::parseInt).toArray();
                        double[] v = new double[f.length - 3];
                        for (int i = 0; i < v.length; i++) {
                            v[i] = parse(f[i + 3]);
                        }
                        cur.tensors().put(f[1], Tensor.wrap(v, dims));
                    }
                    default -> throw new IOException(resource + ":" + lineNo + ": unknown record '" + f[0] + "'");
                }
            }
        }
        return cases;
    }

    /** Python's repr of a float; {@code inf}, {@code -inf} and {@code nan} are spelled differently in Java. */
    private static double parse(String s) {
        return switch (s) {
            case "inf" -> Double.POSITIVE_INFINITY;
            case "-inf" -> Double.NEGATIVE_INFINITY;
            case "nan" -> Double.NaN;
            default -> Double.parseDouble(s);
        };
    }
}
