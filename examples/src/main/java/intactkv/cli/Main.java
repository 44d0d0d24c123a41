package intactkv.cli;

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
        subcommands = {DemoCommand.class, GenerateCommand.class, DumpCommand.class, QuantizeCommand.class, PplCommand.class,
            CalibrateCommand.class, AnalyzeCommand.class, TheoryReportCommand.class, TrainCommand.class,
            InfoCommand.class,
            CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** Builds the command line with the project's error handling. */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Main());
        cl.setUsageHelpWidth(110);
        cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            if (ex instanceof IllegalArgumentException || ex instanceof IllegalStateException
                    || ex instanceof java.io.IOException || ex instanceof IndexOutOfBoundsException) {
                commandLine.getErr().println("intactkv " + commandLine.getCommandName() + ": error: "
                        + ex.getMessage());
                return 1;
            }
            throw ex;
        });
        return cl;
    }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
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
