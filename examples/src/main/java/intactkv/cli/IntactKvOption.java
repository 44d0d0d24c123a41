package intactkv.cli;

import intactkv.prefix.IntactKvPrefix;
import intactkv.prefix.PrefixSpec;
import picocli.CommandLine.Option;

/**
 * The {@code --intactkv} and {@code --context} options of {@code ppl}, {@code eval} and
 * {@code dump}, declared once so that they mean one thing in each: which lossless prefix to run
 * the model with (generated from the full-precision model in the quantized model's basis,
 * {@link intactkv.prefix.PrefixSpec#resolve}), and which context the model sees before each input
 * ({@link intactkv.prefix.PrefixSpec#withContext}). ({@code calibrate} has its own
 * {@code --intactkv}, whose default is the prompt prefix it starts from.)
 *
 * <p>{@code --context} is declared by the subclasses: {@link ContextOption} shows it (ppl, eval,
 * dump); {@link NoContextOption} hides it (generate, gen-fidelity, mt-bench, which refuse any
 * context but {@code none} with their own message).
 */
class IntactKvOption {
    @Option(names = "--intactkv", defaultValue = "none", paramLabel = "WHICH",
            description = "none (default), bos, prompt, or a prefix file written by 'calibrate'")
    String which;

    /** {@code --context C}, declared by the subclass; "none" when absent. */
    String context = "none";

    /** {@link IntactKvOption} with {@code --context} in the help: the commands that use it. */
    static final class ContextOption extends IntactKvOption {
        @Option(names = "--context", defaultValue = "none", paramLabel = "C", description = PrefixSpec.CONTEXT_HELP)
        void context(String c) {
            context = c;
        }
    }

    /**
     * {@link IntactKvOption} whose {@code --context} is accepted but not shown: the command refuses any
     * value but {@code none} with its own message (the system prompt comes with {@code --chat} there).
     */
    static final class NoContextOption extends IntactKvOption {
        @Option(names = "--context", defaultValue = "none", paramLabel = "C", hidden = true,
                description = "refused here (ppl's option): only none")
        void context(String c) {
            context = c;
        }
    }

    /** Checks both flags before any model work; returns how many tokens come before each input. */
    int plannedLength(intactkv.model.LlamaConfig c, intactkv.model.text.Tokenizer tok) throws java.io.IOException {
        return PrefixSpec.plannedLength(which, context, c, tok);
    }

    /** The prefix the chosen model runs with: IntactKV's (from the twin), then the context the model computes itself. */
    IntactKvPrefix prefix(QuantOptions.Chosen chosen, intactkv.model.text.Tokenizer tok) throws java.io.IOException {
        // no prefix needs no twin (an AutoAWQ checkpoint without its scales has none)
        IntactKvPrefix intact = which.equals("none") ? null : PrefixSpec.resolve(which, chosen.twin(), tok);
        return PrefixSpec.withContext(intact, context, chosen.model(), tok);
    }

    /**
     * IntactKV's lossless prefix alone, from {@code twin} (the full-precision model in the quantized model's
     * basis): what {@link #prefix} computes first, for a caller that releases the twin before the quantized
     * model exists (ppl --no-kl). Null for {@code --intactkv none}.
     */
    IntactKvPrefix lossless(intactkv.model.LlamaModel twin, intactkv.model.text.Tokenizer tok) throws java.io.IOException {
        return PrefixSpec.resolve(which, twin, tok);
    }

    /** {@link #prefix} from a {@link #lossless} prefix taken before: the context, which {@code model} computes itself. */
    IntactKvPrefix withContext(IntactKvPrefix lossless, intactkv.model.LlamaModel model, intactkv.model.text.Tokenizer tok) {
        return PrefixSpec.withContext(lossless, context, model, tok);
    }

    /** The quantized model a command runs and the prefix it runs with ({@link #quantizedWithPrefix}). */
    record Prepared(QuantOptions.Chosen chosen, IntactKvPrefix prefix) {
    }

    /**
     * Quantizes (or loads) the model and takes the prefix it runs with. When {@code release}
     * ({@link QuantOptions#releasesFullPrecision}), IntactKV's lossless prefix comes first, from the
     * full-precision model (these methods' twin), and the model is then quantized releasing {@code fp}'s layers
     * ({@link QuantOptions#chooseReleasing}), so the two models are never whole at once; otherwise both are
     * held and the prefix comes from the chosen model's twin ({@link #prefix}). The same prefix either way.
     */
    Prepared quantizedWithPrefix(QuantOptions quant, java.util.concurrent.atomic.AtomicReference<intactkv.model.LlamaWeights> fp,
            boolean release, intactkv.model.text.Tokenizer tok, ProgressBar bar) throws java.io.IOException {
        if (!release) {
            QuantOptions.Chosen chosen = quant.choose(fp.get(), bar);
            return new Prepared(chosen, prefix(chosen, tok));
        }
        IntactKvPrefix intact = which.equals("none") ? null : lossless(quant.twinBeforeRelease(fp.get()), tok);
        QuantOptions.Chosen chosen = quant.chooseReleasing(fp, bar);
        return new Prepared(chosen, withContext(intact, chosen.model(), tok));
    }

    /** How the label names the prefix and context, e.g. {@code bos} or {@code none, context prompt}. */
    String label() {
        return context.equals("none") ? which : which + ", context " + context;
    }
}
