package intactkv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Each command's {@code --help} lists exactly the options it uses: the visible options of every
 * subcommand, as picocli builds them from the shared mixins ({@link QuantOptions} with
 * {@link RunQuantOptions} or {@link QuantizeOptions}, {@link IntactKvOption} with or without
 * {@code --context}) and the command's own, against the list written here; and the rendered help
 * names each of them. A mixin added to the wrong command, or an option that a command refuses
 * shown in its help, fails this test.
 */
class CommandHelpTest {
    /** The quantizer's flags every quantizing command shares (QuantOptions), without --quantized and --method. */
    static final Set<String> QUANTIZER = Set.of("--model", "--wbits", "--group", "--abits", "--kvbits", "--calib",
            "--calib-docs", "--calib-samples", "--calib-seqlen", "--calib-seed", "--calib-bos-first",
            "--calib-activations", "--qseed", "--type");
    /** A command that runs a model: a quantized directory or a method to quantize on the fly (RunQuantOptions). */
    static final Set<String> RUN = union(QUANTIZER, Set.of("--quantized", "--method"));
    static final Set<String> STANDARD = Set.of("--help", "--version");

    @SafeVarargs
    static Set<String> union(Set<String>... sets) {
        return Stream.of(sets).flatMap(Set::stream).collect(Collectors.toCollection(TreeSet::new));
    }

    static Set<String> of(String... names) {
        return Set.of(names);
    }

    static Map<String, Set<String>> expected() {
        Map<String, Set<String>> m = new TreeMap<>();
        m.put("demo", of("--model", "--out", "--seqlen", "--eval-windows", "--calib-samples", "--cal-steps", "--cal-lr",
                "--mc-items"));
        m.put("generate", union(RUN, of("--intactkv", "--prompt", "--chat", "--max-tokens", "--temperature",
                "--do-sample", "--top-k", "--top-p", "--repetition-penalty", "--seed", "--kv-cache-dtype")));
        m.put("mtbench", union(RUN, of("--intactkv", "--questions", "--model-id", "--out", "--max-new-tokens",
                "--num-choices", "--seed", "--kv-cache-dtype")));
        m.put("dump", union(RUN, of("--intactkv", "--context", "--tokens", "--text", "--out")));
        m.put("quantize", union(QUANTIZER, of("--method", "--out", "--dtype", "--format", "--work-dir")));
        m.put("ppl", union(RUN, of("--intactkv", "--context", "--data", "--seqlen", "--json", "--kl",
                "--layer-by-layer", "--windows-per-pass")));
        m.put("calibrate", union(RUN, of("--data", "--intactkv", "--out", "--samples", "--seqlen", "--lr", "--steps",
                "--accumulation", "--warmup", "--prefix-dtype", "--clip", "--seed")));
        m.put("eval", union(RUN, of("--intactkv", "--context", "--tasks", "--builtin", "--shots", "--mmlu", "--limit",
                "--seed", "--json", "--protocol", "--mmlu-shots", "--mmlu-dev", "--layer-by-layer", "--inputs-per-pass",
                "--log-samples")));
        m.put("analyze", union(RUN, of("--text", "--text-file", "--sharegpt", "--samples", "--seqlen", "--max-tokens",
                "--out", "--layers", "--max-prefix", "--from-query")));
        m.put("theory-report", of("--model", "--text", "--kvbits", "--heads", "--out"));
        m.put("train", of("--out", "--steps", "--batch", "--seqlen", "--lr", "--warmup", "--weight-decay",
                "--qk-weight-decay", "--dim", "--layers", "--heads", "--kv-heads", "--ffn", "--vocab", "--eval-every",
                "--checkpoint-every", "--backcopy-fraction", "--backcopy-triggers", "--backcopy-branching",
                "--isolate-fraction", "--hide-separators", "--schedule", "--seed"));
        m.put("info", of());
        m.put("gen-fidelity", union(RUN, of("--intactkv", "--prompts", "--prompt-words", "--max-tokens", "--data",
                "--json", "--kv-cache-dtype")));
        return m;
    }

    @Test
    void eachCommandShowsExactlyItsOptions() {
        CommandLine cl = Main.commandLine();
        Map<String, Set<String>> expected = expected();
        Set<String> commands = new TreeSet<>(cl.getSubcommands().keySet());
        commands.remove("help");
        assertEquals(expected.keySet(), commands, "every command has its list here");
        for (Map.Entry<String, Set<String>> e : expected.entrySet()) {
            CommandLine sub = cl.getSubcommands().get(e.getKey());
            Set<String> shown = sub.getCommandSpec().options().stream().filter(o -> !o.hidden())
                    .map(OptionSpec::longestName).collect(Collectors.toCollection(TreeSet::new));
            assertEquals(union(e.getValue(), STANDARD), shown, e.getKey() + " --help");
            String help = MainTest.run(e.getKey(), "--help")[1];
            for (String name : e.getValue()) {
                String rendered = name.equals("--kl") ? "--[no-]kl" : name;
                assertTrue(help.contains(rendered), e.getKey() + " --help names " + rendered + ":\n" + help);
            }
        }
    }

    /**
     * The flag names whose help differs between commands, and why. Every other name shared by
     * several commands comes from one declaration (a mixin) and so has one help text. The first
     * four are one name for two different things; renaming them would break every script that
     * uses them today, so they are kept and listed here (docs/parts/layout.md).
     */
    static final Map<String, String> COMMAND_SPECIFIC = Map.ofEntries(
            Map.entry("--heads", "two meanings: train's attention heads, theory-report's random heads per group"),
            Map.entry("--layers", "two meanings: train's decoder layers, analyze's layers to plot"),
            Map.entry("--max-tokens", "two meanings: new tokens (generate, gen-fidelity), input truncation (analyze)"),
            Map.entry("--warmup", "two meanings: calibrate's fraction of the steps, train's number of steps"),
            Map.entry("--calib-samples", "the calibration set's size; the demo's also sizes IntactKV's calibration"),
            Map.entry("--data", "the command's input text; what a line is differs (document, prompt source, sample)"),
            Map.entry("--intactkv", "which prefix; calibrate's default is prompt (it trains one) and it has no none"),
            Map.entry("--json", "print the result (one or several) as JSON"),
            Map.entry("--layer-by-layer", "one decoder layer at a time; what a pass carries differs (ppl's windows,"
                    + " eval's inputs)"),
            Map.entry("--kvbits", "KV bits; theory-report's default 4 is the bound's setting, the models' 16 is off"),
            Map.entry("--lr", "the learning rate of the command's optimizer"),
            Map.entry("--method", "the quantization method: on the fly, or quantize's own"),
            Map.entry("--model", "the model directory; demo and theory-report have their own defaults"),
            Map.entry("--out", "the command's output file or directory"),
            Map.entry("--samples", "how many samples the command draws"),
            Map.entry("--seed", "the seed of the command's own random draws"),
            Map.entry("--seqlen", "the length of the command's sequences"),
            Map.entry("--steps", "the optimizer steps of the command"),
            Map.entry("--text", "the text the command runs the model on ([BOS] first)"));

    @Test
    void aSharedNameHasOneHelpUnlessListed() {
        Map<String, Set<String>> help = new TreeMap<>();
        for (Map.Entry<String, CommandLine> e : Main.commandLine().getSubcommands().entrySet()) {
            for (OptionSpec o : e.getValue().getCommandSpec().options()) {
                if (!o.hidden() && !e.getKey().equals("help")) {
                    help.computeIfAbsent(o.longestName(), k -> new TreeSet<>()).add(String.join(" ", o.description()));
                }
            }
        }
        Set<String> differing = help.entrySet().stream().filter(e -> e.getValue().size() > 1).map(Map.Entry::getKey)
                .collect(Collectors.toCollection(TreeSet::new));
        assertEquals(new TreeSet<>(COMMAND_SPECIFIC.keySet()), differing,
                "a flag name with another help text in another command: share its declaration, or list it with a reason");
    }

    @Test
    void quantizeOffersNeitherALoadedModelNorOnTheFly() {
        String help = MainTest.run("quantize", "--help")[1];
        assertFalse(help.contains("--quantized"), help);
        assertFalse(help.contains("quantize on the fly"), help);
        assertTrue(help.contains("the method to quantize with"), help);
        String[] r = MainTest.run("quantize", "--model", "default", "--method", "rtn", "--quantized", "x", "--out", "y");
        assertEquals("1", r[0], "still the command's own refusal, not an unknown option: " + r[2]);
        assertTrue(r[2].contains("quantize starts from the full-precision --model; drop --quantized"), r[2]);
    }

    @Test
    void commandsThatRefuseContextDoNotOfferIt() {
        for (String cmd : new String[] {"generate", "gen-fidelity", "mtbench"}) {
            String help = MainTest.run(cmd, "--help")[1];
            assertFalse(help.contains("--context=C"), cmd + " --help: " + help);
        }
        String[] r = MainTest.run("generate", "--model", "default", "--prompt", "hi", "--context", "prompt");
        assertEquals("1", r[0], r[2]);
        assertTrue(r[2].contains("--context prompt is ppl's"), r[2]);
    }
}
