package intactkv.cli;

import intactkv.tensor.Gemm;
import intactkv.tensor.Parallel;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code ./intactkv info}: the runtime this program runs on and the kernels it selected. */
@Command(name = "info", mixinStandardHelpOptions = true,
        header = "The Java runtime and the matmul kernel in use.",
        description = "Print the Java runtime, thread count and whether the Vector-API matmul kernel is active.")
final class InfoCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        var out = spec.commandLine().getOut();
        out.printf("java           %s (%s)%n", Runtime.version(), System.getProperty("java.vm.name"));
        out.printf("threads        %d (intactkv.tensor.Parallel)%n", Parallel.threads());
        out.printf("matmul kernel  %s%n", Gemm.vectorized()
                ? "Vector API (jdk.incubator.vector), register-blocked, fma"
                : "scalar fma reference (start java with --add-modules jdk.incubator.vector for the fast kernel;"
                        + " results are bit-identical)");
        out.printf("max heap       %d MiB%n", Runtime.getRuntime().maxMemory() >> 20);
        return 0;
    }
}
