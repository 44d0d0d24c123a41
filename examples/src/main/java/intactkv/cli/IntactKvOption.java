package intactkv.cli;

import picocli.CommandLine.Option;

/**
 * The {@code --intactkv} option of {@code ppl}, {@code eval} and {@code dump}, declared once so
 * that it means one thing in each: which lossless prefix to run the model with, resolved by
 * {@link intactkv.prefix.PrefixSpec#resolve}. ({@code calibrate} has its own, whose default is the
 * prompt prefix it starts from.)
 */
final class IntactKvOption {
    @Option(names = "--intactkv", defaultValue = "none", paramLabel = "WHICH",
            description = "none (default), bos, prompt, or a prefix file written by 'calibrate'")
    String which;
}
