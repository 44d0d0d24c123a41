package intactkv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Command;

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
        assertEquals("run 'intactkv --help' for the commands", r[2].lines().toList().get(1), r[2]);
    }

    /** A usage error prints its one line and the hint, not the ~30 lines of usage that would bury it. */
    @Test
    void aUsageErrorIsOneLineAndTheHelpHint() {
        String[][] cases = {
            {"ppl", "--model", "default", "--data", "x.txt", "--no-such-flag"},
            {"ppl", "--model", "default", "--data", "x.txt", "--seqlen", "many"},
            {"ppl", "--model", "default"},
        };
        String[] expected = {"Unknown option: '--no-such-flag'", "'many' is not an int", "--data"};
        for (int i = 0; i < cases.length; i++) {
            String[] r = run(cases[i]);
            assertEquals("2", r[0], r[2]);
            List<String> lines = r[2].lines().toList();
            assertEquals(2, lines.size(), r[2]);
            assertTrue(lines.get(0).startsWith("intactkv ppl: error: ") && lines.get(0).contains(expected[i]), r[2]);
            assertEquals("run 'intactkv ppl --help' for the options", lines.get(1));
            assertEquals("", r[1], "no usage on standard output either");
        }
    }

    @Test
    void aMistypedFlagNamesTheNearestOne() {
        String[] r = run("ppl", "--model", "default", "--data", "x.txt", "--seqln", "128");
        assertEquals("2", r[0], r[2]);
        assertTrue(r[2].lines().findFirst().orElseThrow().contains("did you mean --seqlen"), r[2]);
    }

    /** A command that throws {@code error} from its work. */
    @Command(name = "oom")
    static final class Throwing implements Callable<Integer> {
        final Throwable error;

        Throwing(Throwable error) {
            this.error = error;
        }

        @Override
        public Integer call() throws Exception {
            if (error instanceof Error e) {
                throw e;
            }
            throw (Exception) error;
        }
    }

    /**
     * An OutOfMemoryError, thrown as itself (picocli passes Errors through its handlers) or as
     * the cause of an exception (a worker thread's), becomes one line naming the command and
     * INTACTKV_JAVA_OPTS, exit status 1, no stack trace.
     */
    @Test
    void outOfMemoryIsOneLineNamingTheCommandAndTheSetting() {
        for (Throwable t : new Throwable[] {new OutOfMemoryError("Java heap space"),
            new IllegalStateException("worker failed", new OutOfMemoryError("Java heap space")),
            new RuntimeException(new OutOfMemoryError("Requested array size exceeds VM limit"))}) {
            CommandLine cl = Main.commandLine();
            cl.addSubcommand("oom", new Throwing(t));
            StringWriter out = new StringWriter();
            StringWriter err = new StringWriter();
            cl.setOut(new PrintWriter(out));
            cl.setErr(new PrintWriter(err));
            int code = cl.execute("oom");
            assertEquals(1, code, err.toString());
            List<String> lines = err.toString().lines().toList();
            assertEquals(1, lines.size(), err.toString());
            assertTrue(lines.get(0).startsWith("intactkv oom: error: out of memory (")
                    && lines.get(0).contains("INTACTKV_JAVA_OPTS=-Xmx") && lines.get(0).contains("./intactkv oom"),
                    lines.get(0));
        }
    }
}
