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
            "--calib-activations", "--qseed");
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
                "--do-sample", "--top-k", "--top-p", "--repetition-penalty", "--seed")));
        m.put("mtbench", union(RUN, of("--intactkv", "--questions", "--model-id", "--out", "--max-new-tokens",
                "--num-choices", "--seed")));
        m.put("dump", union(RUN, of("--intactkv", "--context", "--tokens", "--text", "--out")));
        m.put("quantize", union(QUANTIZER, of("--method", "--out", "--dtype", "--format")));
        m.put("ppl", union(RUN, of("--intactkv", "--context", "--data", "--seqlen", "--json", "--kl")));
        m.put("calibrate", union(RUN, of("--data", "--intactkv", "--out", "--samples", "--seqlen", "--lr", "--steps",
                "--accumulation", "--warmup", "--prefix-dtype", "--clip", "--seed")));
        m.put("eval", union(RUN, of("--intactkv", "--context", "--tasks", "--builtin", "--shots", "--mmlu", "--limit",
                "--seed", "--json", "--protocol", "--mmlu-shots", "--mmlu-dev")));
        m.put("analyze", union(RUN, of("--text", "--text-file", "--sharegpt", "--samples", "--seqlen", "--max-tokens",
                "--out", "--layers", "--max-prefix", "--from-query")));
        m.put("theory-report", of("--model", "--text", "--kvbits", "--heads", "--out"));
        m.put("train", of("--out", "--steps", "--batch", "--seqlen", "--lr", "--warmup", "--weight-decay",
                "--qk-weight-decay", "--dim", "--layers", "--heads", "--kv-heads", "--ffn", "--vocab", "--eval-every",
                "--checkpoint-every", "--backcopy-fraction", "--backcopy-triggers", "--backcopy-branching",
                "--isolate-fraction", "--hide-separators", "--schedule", "--seed"));
        m.put("info", of());
        m.put("gen-fidelity", union(RUN, of("--intactkv", "--prompts", "--prompt-words", "--max-tokens", "--data",
                "--json")));
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
