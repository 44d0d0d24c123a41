package intactkv.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.io.InputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * {@link PythonRandom} against CPython 3.11's {@code random} module: every draw of
 * {@code fixtures/python_random.tsv} (made by {@code tools/oracle/python_random_fixture.py})
 * is reproduced exactly (integers, so no tolerance).
 */
class PythonRandomTest {
    private static List<String[]> fixture() throws IOException {
        try (InputStream in = PythonRandomTest.class.getResourceAsStream("/fixtures/python_random.tsv")) {
            String text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            List<String[]> rows = new ArrayList<>();
            for (String line : text.split("\n")) {
                if (!line.isBlank() && !line.startsWith("#")) {
                    rows.add(line.split("\t"));
                }
            }
            return rows;
        }
    }

    @Test
    void everyDrawOfTheFixtureIsCPythons() throws IOException {
        List<String[]> rows = fixture();
        int checked = 0;
        String seed = null;
        PythonRandom bits = null;
        PythonRandom ints = null;
        PythonRandom words = null;
        int nextWord = 0;
        for (String[] r : rows) {
            if (!r[0].equals(seed)) {
                seed = r[0];
                BigInteger s = new BigInteger(seed);
                bits = new PythonRandom(s);
                ints = new PythonRandom(s);
                words = new PythonRandom(s);
                nextWord = 0;
            }
            switch (r[1]) {
                case "getrandbits" -> assertEquals(new BigInteger(r[3]), bits.getrandbits(Integer.parseInt(r[2])),
                        "seed " + seed + " getrandbits(" + r[2] + ")");
                case "randint" -> assertEquals(Long.parseLong(r[4]), ints.randint(Long.parseLong(r[2]),
                        Long.parseLong(r[3])), "seed " + seed + " randint(" + r[2] + ", " + r[3] + ")");
                case "shuffle" -> {
                    int n = Integer.parseInt(r[2]);
                    List<Integer> xs = IntStream.range(0, n).boxed().collect(Collectors.toCollection(ArrayList::new));
                    new PythonRandom(new BigInteger(seed)).shuffle(xs);
                    assertEquals(r[3], xs.stream().map(String::valueOf).collect(Collectors.joining(",")),
                            "seed " + seed + " shuffle of " + n);
                }
                case "uint32" -> {
                    int i = Integer.parseInt(r[2]);
                    long v = 0;
                    while (nextWord <= i) {
                        v = words.nextUint32();
                        nextWord++;
                    }
                    assertEquals(Long.parseLong(r[3]), v, "seed " + seed + " output " + i);
                }
                default -> throw new IllegalStateException("unknown fixture row " + String.join(" ", r));
            }
            checked++;
        }
        assertEquals(rows.size(), checked);
        assertEquals(294, checked, "the fixture has 294 draws");
    }

    @Test
    void negativeSeedsAreTheirAbsoluteValueAsInPython() {
        PythonRandom a = new PythonRandom(-42);
        PythonRandom b = new PythonRandom(42);
        for (int i = 0; i < 10; i++) {
            assertEquals(b.nextUint32(), a.nextUint32());
        }
    }

    @Test
    void badArgumentsAreRefused() {
        PythonRandom r = new PythonRandom(0);
        assertThrows(IllegalArgumentException.class, () -> r.randint(3, 2));
        assertThrows(IllegalArgumentException.class, () -> r.randbelow(0));
        assertThrows(IllegalArgumentException.class, () -> r.getrandbits(-1));
    }
}
