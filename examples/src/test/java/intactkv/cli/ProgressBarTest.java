package intactkv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** What the progress bar prints to a log (a few plain lines) and to a terminal (one line per stage). */
class ProgressBarTest {
    @Test
    void aLogGetsOneLinePerShortStageNotHundreds() {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        try (ProgressBar bar = new ProgressBar(new PrintStream(b, true, StandardCharsets.UTF_8), false)) {
            for (String stage : new String[] {"rtn", "ppl", "ppl"}) { // "ppl" twice: two tasks
                for (int i = 1; i <= 500; i++) {
                    bar.update(stage, i / 500.0, "loss 1.0");
                }
            }
        }
        String[] lines = b.toString(StandardCharsets.UTF_8).split("\n");
        // stages shorter than QUIET_SECONDS print only their completion
        assertEquals(3, lines.length, String.join("\n", lines));
        assertTrue(lines[0].startsWith("rtn") && lines[0].contains("100%"), lines[0]);
        assertTrue(lines[2].startsWith("ppl") && lines[2].contains("100%"), lines[2]);
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
}
