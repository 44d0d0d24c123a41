package intactkv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class MainTest {
    /** Runs the command line in process: {exit code, standard output, standard error}. */
    static String[] run(String... args) {
        CommandLine cl = Main.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        int code = cl.execute(args);
        return new String[] {String.valueOf(code), out.toString(), err.toString()};
    }

    @Test
    void helpListsCommands() {
        String[] r = run("--help");
        assertEquals("0", r[0]);
        assertTrue(r[1].contains("Usage: intactkv") && r[1].contains("info"), r[1]);
    }

    @Test
    void infoReportsTheKernel() {
        String[] r = run("info");
        assertEquals("0", r[0]);
        assertTrue(r[1].contains("matmul kernel  Vector API"), r[1]);
    }

    @Test
    void unknownCommandIsAUsageError() {
        String[] r = run("no-such-command");
        assertEquals("2", r[0]);
        assertTrue(r[2].contains("no-such-command"), r[2]);
    }
}
