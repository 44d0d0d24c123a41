package intactkv.cli;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * Entry point of {@code ./intactkv}. Every subcommand is a picocli command with generated
 * {@code --help}; errors from bad input are printed as one line naming the file, tensor or
 * value (no stack trace) and exit with status 1; usage errors exit with status 2.
 */
@Command(name = "intactkv", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = {
            "IntactKV (Liu et al., ACL Findings 2024) in pure Java:",
            "keep the KV cache of pivot tokens lossless when quantizing a LLaMA model.",
            "",
            "Run './intactkv COMMAND --help' for the options of a command."
        },
        subcommands = {DemoCommand.class, GenerateCommand.class, MtBenchCommand.class, DumpCommand.class, QuantizeCommand.class, PplCommand.class,
            CalibrateCommand.class, EvalCommand.class, AnalyzeCommand.class, TheoryReportCommand.class, TrainCommand.class,
            InfoCommand.class,
            GenFidelityCommand.class,
            CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /**
     * Builds the command line with the project's error handling: a usage error prints one line
     * and the {@code --help} hint (exit 2); an error from bad input prints one line (exit 1); an
     * {@link OutOfMemoryError}, thrown by the command itself (picocli passes {@link Error}s
     * through) or found as the cause of an exception, prints one line naming the command and
     * {@code INTACTKV_JAVA_OPTS} (exit 1), never a stack trace. Outputs a command claimed
     * ({@link OutputTarget}) are released when it ends, however it ends.
     */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Main());
        cl.setUsageHelpWidth(110);
        cl.setParameterExceptionHandler(Main::usageError);
        cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            OutOfMemoryError oom = outOfMemoryCause(ex);
            if (oom != null) {
                commandLine.getErr().println(Memory.outOfMemory(commandLine.getCommandName(), oom));
                return 1;
            }
            if (ex instanceof java.io.UncheckedIOException io) { // an I/O error inside a computation (a saved layer read back)
                commandLine.getErr().println("intactkv " + commandLine.getCommandName() + ": error: "
                        + io.getCause().getMessage());
                return 1;
            }
            if (ex instanceof IllegalArgumentException || ex instanceof IllegalStateException
                    || ex instanceof java.io.IOException || ex instanceof IndexOutOfBoundsException) {
                commandLine.getErr().println("intactkv " + commandLine.getCommandName() + ": error: "
                        + ex.getMessage());
                return 1;
            }
            throw ex;
        });
        cl.setExecutionStrategy(parseResult -> {
            List<CommandLine> chain = parseResult.asCommandLineList();
            Memory.start(chain.get(chain.size() - 1).getCommandName());
            try {
                return new CommandLine.RunLast().execute(parseResult);
            } catch (OutOfMemoryError e) {
                CommandLine last = chain.get(chain.size() - 1);
                last.getErr().println(Memory.outOfMemory(last.getCommandName(), e));
                last.getErr().flush();
                return 1;
            } finally {
                OutputTarget.releaseAll();
                Memory.clear();
            }
        });
        return cl;
    }

    /**
     * A usage error (unknown flag, bad value, missing option): its one line and where to look,
     * not the whole usage, which would bury it. The exit status stays picocli's 2.
     */
    private static int usageError(CommandLine.ParameterException ex, String[] args) {
        CommandLine c = ex.getCommandLine();
        String name = c.getCommandSpec().qualifiedName(" ");
        String message = String.join(" ", String.valueOf(ex.getMessage()).strip().split("\\R+"));
        if (ex instanceof CommandLine.UnmatchedArgumentException u && !u.getSuggestions().isEmpty()) {
            message += " (did you mean " + String.join(" or ", u.getSuggestions()) + "?)";
        }
        c.getErr().println(name + ": error: " + message);
        c.getErr().println("run '" + name + " --help' for the " + (c.getCommandSpec().parent() == null ? "commands" : "options"));
        c.getErr().flush();
        return c.getCommandSpec().exitCodeOnInvalidInput();
    }

    /** The {@link OutOfMemoryError} among {@code e}'s causes, or null. */
    static OutOfMemoryError outOfMemoryCause(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof OutOfMemoryError oom) {
                return oom;
            }
        }
        return null;
    }

    public static void main(String[] args) {
        // output is UTF-8 whatever the locale (Java 17 would otherwise print '?' under LANG=C)
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
        PrintStream err = new PrintStream(new FileOutputStream(FileDescriptor.err), true, StandardCharsets.UTF_8);
        System.setOut(out);
        System.setErr(err);
        String refused = undecodableArguments(args, System.getProperty("sun.jnu.encoding", ""));
        if (refused != null) {
            err.println("intactkv: error: " + refused);
            System.exit(2);
        }
        CommandLine cl = commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        System.exit(cl.execute(args));
    }

    /**
     * Null when the arguments were decoded faithfully, else the message refusing them. The JVM
     * decodes the command line with the locale's charset ({@code sun.jnu.encoding}); under the
     * POSIX locale (LANG unset, as in many containers) every non-ASCII byte becomes U+FFFD, and
     * the text a user typed is lost before the program sees it. The {@code ./intactkv} launcher
     * sets a UTF-8 locale itself; this catches a direct {@code java -jar}.
     */
    static String undecodableArguments(String[] args, String jnuEncoding) {
        if (jnuEncoding.equalsIgnoreCase("UTF-8") || jnuEncoding.equalsIgnoreCase("UTF8")) {
            return null;
        }
        for (String a : args) {
            if (a.indexOf('\uFFFD') >= 0) {
                return "the command line holds characters that the locale's charset (" + jnuEncoding + ") cannot"
                        + " decode, in '" + a + "'; run with a UTF-8 locale, e.g. LC_ALL=C.UTF-8 java -jar ...";
            }
        }
        return null;
    }

    /** Version from the jar manifest, with the Java runtime it runs on. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"intactkv " + (v == null ? "(development build)" : v),
                "Java " + Runtime.version()};
        }
    }
}
