package intactkv.prefix;

import intactkv.model.LlamaConfig;
import intactkv.model.LlamaModel;
import intactkv.model.text.Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Which IntactKV prefix to use ({@code none}, {@code bos} = IntactKV_[B], {@code prompt} =
 * IntactKV_[P], or a prefix file), and which context the model sees before each input
 * ({@code none}, or {@code prompt}: [BOS] + the Vicuna system prompt).
 *
 * <p>Generated prefixes always come from the full-precision model <b>in the quantized model's
 * basis</b>, the twin of {@link intactkv.quant.QuantizedModel#twin()} (the original model for
 * RTN/GPTQ, the AWQ-scaled one for AWQ, the rotated one for QuaRot; see
 * {@link intactkv.quant.Basis}).
 *
 * <p>The context is what makes the [P] comparison fair: the official code compares
 * IntactKV_[P] with the quantized model that sees the same system prompt and caches its own
 * (quantized) prompt keys and values. With {@code --context prompt}, the tokens of the context
 * not covered by the IntactKV prefix are computed by the quantized model itself
 * ({@link IntactKvPrefix#extend}), and scoring starts after the context in both cases.
 */
public final class PrefixSpec {
    /** The values of {@code --context}. */
    public static final String CONTEXT_HELP = "none (default) or prompt: the quantized model sees [BOS] + the Vicuna"
            + " system prompt before each window and computes that prompt's KV itself (the fair baseline of"
            + " --intactkv prompt); scoring starts after it";

    private PrefixSpec() {
    }

    /**
     * Checks {@code spec} and {@code context} before any model work and returns the number of
     * tokens the model will see before each input (the prefix, or the context if longer).
     */
    public static int plannedLength(String spec, String context, LlamaConfig c, Tokenizer tok) throws IOException {
        int[] ids = plannedIds(spec, c, tok);
        int[] ctx = contextIds(context, tok);
        if (ctx.length > 0 && ids.length > 0) {
            requireCovered(ids, ctx, "--intactkv " + spec);
        }
        return Math.max(ids.length, ctx.length);
    }

    /**
     * The token ids of the prefix {@code spec} names (none: empty), known before any model work
     * (a prefix file is read and checked against {@code c}).
     */
    public static int[] plannedIds(String spec, LlamaConfig c, Tokenizer tok) throws IOException {
        return switch (spec) {
            case "none" -> new int[0];
            case "bos" -> new int[] {c.bosTokenId()};
            case "prompt" -> {
                requireTokenizer(tok, "--intactkv prompt");
                yield IntactKvPrefix.vicunaPromptIds(tok);
            }
            default -> IntactKvPrefix.load(prefixFile(spec), c).ids();
        };
    }

    /**
     * Resolves {@code spec} (none, bos, prompt or a file path) with {@code twin}, the
     * full-precision model in the quantized model's basis; null for none. {@code tok} is needed
     * for {@code prompt} only.
     */
    public static IntactKvPrefix resolve(String spec, LlamaModel twin, Tokenizer tok) throws IOException {
        return spec.equals("none") ? null
                : resolve(spec, twin.config(), ids -> IntactKvPrefix.generate(twin, ids), tok);
    }

    /**
     * Whether {@code spec} names a prefix the twin generates (bos, prompt), as opposed to none or a file: the specs
     * {@link #resolve(String, LlamaConfig, Generator, Tokenizer)} hands to its generator.
     */
    public static boolean generated(String spec) {
        return spec.equals("bos") || spec.equals("prompt");
    }

    /** How a generated prefix's ids become its keys, values and logits (the twin's forward pass, or a layer at a time). */
    @FunctionalInterface
    public interface Generator {
        IntactKvPrefix generate(int[] ids) throws IOException;
    }

    /**
     * {@link #resolve(String, LlamaModel, Tokenizer)} for a model of config {@code c} whose prefix {@code generator}
     * makes from its ids ({@code [BOS]} for bos, {@link IntactKvPrefix#vicunaPromptIds} for prompt); a file is
     * read and checked against {@code c}.
     */
    public static IntactKvPrefix resolve(String spec, LlamaConfig c, Generator generator, Tokenizer tok)
            throws IOException {
        switch (spec) {
            case "none":
                return null;
            case "bos":
                return generator.generate(new int[] {c.bosTokenId()});
            case "prompt":
                requireTokenizer(tok, "--intactkv prompt");
                return generator.generate(IntactKvPrefix.vicunaPromptIds(tok));
            default:
                return IntactKvPrefix.load(prefixFile(spec), c);
        }
    }

    /**
     * The prefix the model runs with under {@code context}: {@code prefix} itself for
     * {@code none}; for {@code prompt}, the context [BOS] + system prompt, whose tokens beyond the
     * IntactKV prefix (all of them without IntactKV) {@code model} computes itself.
     */
    public static IntactKvPrefix withContext(IntactKvPrefix prefix, String context, LlamaModel model, Tokenizer tok) {
        int[] ctx = contextIds(context, tok);
        if (ctx.length == 0) {
            return prefix;
        }
        if (prefix == null) {
            return IntactKvPrefix.generate(model, ctx);
        }
        requireCovered(prefix.ids(), ctx, "the IntactKV prefix");
        if (prefix.length() >= ctx.length) {
            return prefix;
        }
        return prefix.extend(model, Arrays.copyOfRange(ctx, prefix.length(), ctx.length));
    }

    /** The context's token ids: none for {@code none}, [BOS] + the Vicuna system prompt for {@code prompt}. */
    public static int[] contextIds(String context, Tokenizer tok) {
        return switch (context) {
            case "none" -> new int[0];
            case "prompt" -> {
                requireTokenizer(tok, "--context prompt");
                int[] ids = IntactKvPrefix.vicunaPromptIds(tok);
                for (int i = 1; i < ids.length; i++) {
                    if (ids[i] == tok.unkId() && tok.unkId() >= 0) {
                        throw new IllegalArgumentException("--context prompt: the tokenizer cannot spell the Vicuna"
                                + " system prompt (token " + i + " is <unk>); use a chat model's tokenizer.json");
                    }
                }
                yield ids;
            }
            default -> throw new IllegalArgumentException("--context must be none or prompt: " + context);
        };
    }

    /** The prefix file {@code spec} names (none of none/bos/prompt), refused when it does not exist. */
    private static Path prefixFile(String spec) {
        Path file = Path.of(spec);
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("--intactkv must be none, bos, prompt or a prefix file; " + spec
                    + " is none of these (no such file)");
        }
        return file;
    }

    private static void requireTokenizer(Tokenizer tok, String what) {
        if (tok == null) {
            throw new IllegalArgumentException(what + " needs the model's tokenizer.json");
        }
        if (tok.bosId() < 0) {
            throw new IllegalArgumentException(what + ": the tokenizer has no [BOS] token, so it cannot build the chat"
                    + " template's [BOS] + system prompt");
        }
    }

    /** Either ids starts with ctx or ctx starts with ids: the prefix and the context agree where they overlap. */
    private static void requireCovered(int[] ids, int[] ctx, String what) {
        int n = Math.min(ids.length, ctx.length);
        for (int i = 0; i < n; i++) {
            if (ids[i] != ctx[i]) {
                throw new IllegalArgumentException(what + " (tokens " + Arrays.toString(Arrays.copyOf(ids,
                        Math.min(ids.length, 8))) + "...) and --context prompt ([BOS] + system prompt) differ at token "
                        + i + "; use a prefix of the same system prompt, or --context none");
            }
        }
    }
}
