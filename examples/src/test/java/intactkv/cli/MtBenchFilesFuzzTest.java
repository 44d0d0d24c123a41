package intactkv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.model.io.FormatException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The MT-Bench question and answer readers under seeded byte mutations (a byte replaced by a
 * JSON-significant one, a range deleted, a range duplicated): each case either reads or throws
 * {@link FormatException} whose message starts with {@code FILE:LINE:} (or the file, for an empty
 * one); never another exception. Answer files are also read with their last line cut at every
 * length, which must always be repaired, never refused.
 */
class MtBenchFilesFuzzTest {
    static final int CASES = 1500;
    static final byte[] SIGNIFICANT = "{}[]\",: 0-1.eatruxn\\\n".getBytes(StandardCharsets.US_ASCII);

    @TempDir
    Path dir;

    static byte[] mutate(byte[] valid, Random r) {
        int at = r.nextInt(valid.length);
        return switch (r.nextInt(3)) {
            case 0 -> {
                byte[] b = valid.clone();
                b[at] = SIGNIFICANT[r.nextInt(SIGNIFICANT.length)];
                yield b;
            }
            case 1 -> {
                int len = 1 + r.nextInt(Math.min(12, valid.length - at));
                byte[] b = new byte[valid.length - len];
                System.arraycopy(valid, 0, b, 0, at);
                System.arraycopy(valid, at + len, b, at, valid.length - at - len);
                yield b;
            }
            default -> {
                int len = 1 + r.nextInt(Math.min(12, valid.length - at));
                byte[] b = Arrays.copyOf(valid, valid.length + len);
                System.arraycopy(valid, at, b, at + len, valid.length - at);
                yield b;
            }
        };
    }

    @Test
    void questionFileReadsOrRefusesByLine() throws Exception {
        byte[] valid = (MtBenchCommandTest.Q1 + "\n" + MtBenchCommandTest.Q2 + "\n" + MtBenchCommandTest.Q3 + "\n")
                .getBytes(StandardCharsets.UTF_8);
        Path f = dir.resolve("question.jsonl");
        Random r = new Random(2801);
        int refused = 0;
        for (int i = 0; i < CASES; i++) {
            Files.write(f, mutate(valid, r));
            try {
                MtBenchQuestions.read(f);
            } catch (FormatException e) {
                refused++;
                assertTrue(e.getMessage().matches("(?s)\\Q" + f + "\\E(:\\d+)?: .*"), e.getMessage());
            }
        }
        assertTrue(refused > CASES / 4 && refused < CASES, "refused " + refused + " of " + CASES);
    }

    @Test
    void answerFileReadsRepairsOrRefusesByLine() throws Exception {
        String line = "{\"question_id\":81,\"answer_id\":\"abc\",\"model_id\":\"tiny\",\"choices\":[{\"index\":0,"
                + "\"turns\":[\"a\",\"b\"]}],\"tstamp\":1.5}";
        byte[] valid = (line + "\n" + line.replace("81", "\"q-2\"") + "\n").getBytes(StandardCharsets.UTF_8);
        Path f = dir.resolve("answers.jsonl");
        Random r = new Random(2802);
        int refused = 0;
        for (int i = 0; i < CASES; i++) {
            Files.write(f, mutate(valid, r));
            try {
                MtBenchAnswers.read(f, "tiny");
            } catch (FormatException e) {
                refused++;
                assertTrue(e.getMessage().matches("(?s)\\Q" + f + "\\E(:\\d+)?: .*"), e.getMessage());
            }
        }
        assertTrue(refused > CASES / 4 && refused < CASES, "refused " + refused + " of " + CASES);
        // an interrupt at any byte of the last line: always repaired, and the first answer kept
        byte[] two = valid;
        int start = line.length() + 1;
        for (int cut = start + 1; cut < two.length - 1; cut++) {
            Files.write(f, Arrays.copyOf(two, cut));
            MtBenchAnswers.Existing e = MtBenchAnswers.read(f, "tiny");
            assertEquals(Set.of("81"), e.answered(), "cut at " + cut);
            assertTrue(e.repair().contains("cut short"), e.repair());
            assertEquals(start, Files.size(f), "truncated to the whole first line");
        }
    }
}
