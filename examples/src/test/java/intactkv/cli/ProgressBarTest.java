package intactkv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What the progress bar prints to a log (a few plain lines) and to a terminal (one line per stage). */
class ProgressBarTest {
    /** A clock that advances one second per reading, so elapsed and left times are exact. */
    private static final class Clock {
        long now;

        long next() {
            now += 1_000_000_000L;
            return now;
        }
    }

    private static List<String> plainLines(String... stages) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        Clock clock = new Clock();
        try (ProgressBar bar = new ProgressBar(new PrintStream(b, true, StandardCharsets.UTF_8), false, clock::next)) {
            for (String stage : stages) {
                for (int i = 1; i <= 500; i++) {
                    bar.update(stage, i / 500.0, "loss 1.0");
                }
            }
        }
        return b.toString(StandardCharsets.UTF_8).lines().toList();
    }

    @Test
    void aLogGetsAFirstLineAtOnceAndOneLinePerQuarter() {
        // the first line comes with the first update (no quiet period); then 25, 50, 75 and 100 %, each once
        // (the bar's clock: one second per reading, the constructor's included, so update i runs at i + 1 s
        // and the stage's own clock starts at its first update, 2 s)
        List<String> lines = plainLines("rtn");
        assertEquals(List.of(
                "rtn        [..............................]   0% loss 1.0 elapsed 0s, left ?",
                "rtn        [########......................]  25% loss 1.0 elapsed 2m04s, left 6m12s",
                "rtn        [###############...............]  50% loss 1.0 elapsed 4m09s, left 4m09s",
                "rtn        [#######################.......]  75% loss 1.0 elapsed 6m14s, left 2m04s",
                "rtn        [##############################] 100% loss 1.0 elapsed 8m19s, left 0s"), lines);
    }

    @Test
    void aRepeatedStageIsANewTaskAndNoQuarterIsPrintedTwice() {
        List<String> lines = plainLines("rtn", "ppl", "ppl"); // "ppl" twice: two tasks
        assertEquals(15, lines.size(), String.join("\n", lines));
        for (int task = 0; task < 3; task++) {
            for (int q = 0; q < 5; q++) {
                String line = lines.get(5 * task + q);
                assertTrue(line.contains(String.format("%3d%%", 25 * q)), line);
            }
        }
        assertEquals(lines.size(), lines.stream().distinct().count() + 5, "only the two ppl tasks repeat lines");
    }

    @Test
    void aShortStageStillSaysItFinished() {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        Clock clock = new Clock();
        try (ProgressBar bar = new ProgressBar(new PrintStream(b, true, StandardCharsets.UTF_8), false, clock::next)) {
            bar.update("quarot", 1.0);
            bar.update("quarot", 1.0);
        }
        assertEquals(List.of("quarot     [##############################] 100% elapsed 0s, left 0s"),
                b.toString(StandardCharsets.UTF_8).lines().toList());
    }

    @Test
    void aTerminalRedrawsInPlaceAndEndsEachStageWithANewline() {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        try (ProgressBar bar = new ProgressBar(new PrintStream(b, true, StandardCharsets.UTF_8), true)) {
            bar.update("gptq", 0.5);
            bar.update("gptq", 1.0);
            bar.update("ppl", 0.3);
        }
        String s = b.toString(StandardCharsets.UTF_8);
        assertTrue(s.startsWith("\rgptq"), s);
        // the completed stage's line ends before the next stage draws; close ends the last one
        assertTrue(s.contains("100%") && s.indexOf("\n") < s.indexOf("ppl"), s);
        assertTrue(s.endsWith("\n"), s);
    }

    @Test
    void standardErrorDecidesAndTheLauncherPropertyWinsOverTheConsole() {
        assertTrue(ProgressBar.stderrIsTerminal("1", false));
        assertFalse(ProgressBar.stderrIsTerminal("0", true), "2> run.log under a terminal: plain lines");
        assertTrue(ProgressBar.stderrIsTerminal(null, true), "no launcher: System.console() decides");
        assertFalse(ProgressBar.stderrIsTerminal(null, false));
    }
}
