/**
 * The {@code ./intactkv} command-line program: one entry point ({@link intactkv.cli.Main})
 * with a picocli subcommand per task. Subcommands are added by the issues that build the
 * functionality (generate, dump, quantize, ppl, calibrate, analyze, train, demo).
 */
package intactkv.cli;
