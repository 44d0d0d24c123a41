package intactkv.model.text;

import intactkv.autograd.GradMode;
import intactkv.model.KvCache;
import intactkv.model.LlamaModel;
import intactkv.tensor.Layout;
import intactkv.tensor.Tensor;
import java.util.Arrays;
import java.util.function.Consumer;

/**
 * Autoregressive generation with the KV cache: one forward pass over the prompt, then one
 * token at a time with the cache of everything before it, until [EOS], a token limit or the
 * model's maximum length. Text is streamed to a consumer as soon as it is complete UTF-8.
 */
public final class Generator {
    private final LlamaModel model;
    private final Tokenizer tokenizer;

    public Generator(LlamaModel model, Tokenizer tokenizer) {
        this.model = model;
        this.tokenizer = tokenizer;
    }

    /** The generated token ids (without the prompt, [EOS] excluded) and why generation stopped. */
    public record Result(int[] tokens, String text, String stopReason) {
    }

    /**
     * Continues {@code prompt} (token ids, [BOS] included if wanted) for at most
     * {@code maxTokens} tokens; {@code onText} receives each new piece of text.
     */
    public Result generate(int[] prompt, int maxTokens, Sampler sampler, Consumer<String> onText) {
        if (prompt.length == 0) {
            throw new IllegalArgumentException("generate: empty prompt");
        }
        int limit = model.config().maxPositionEmbeddings();
        if (prompt.length >= limit) {
            throw new IllegalArgumentException("generate: prompt of " + prompt.length
                    + " tokens leaves no room under max_position_embeddings " + limit);
        }
        int[] out = new int[Math.min(maxTokens, limit - prompt.length)]; // generation stops at the last position anyway
        int n = 0;
        String printed = "";
        String stop = "max-tokens";
        try (GradMode.Scope s = GradMode.noGrad()) {
            LlamaModel.Output o = model.forward(prompt, null, LlamaModel.Options.LOGITS);
            KvCache cache = o.present();
            Tensor logits = o.logits().data();
            int pos = prompt.length;
            while (n < maxTokens) {
                int v = logits.dim(-1);
                int t = logits.dim(-2);
                double[] last = Layout.slice(logits.reshape(t, v), 0, t - 1, t).data();
                int next = sampler.next(last);
                if (next == model.config().eosTokenId() || next == tokenizer.eosId()) {
                    stop = "eos";
                    break;
                }
                out[n++] = next;
                String text = tokenizer.decode(Arrays.copyOf(out, n), true);
                if (!text.endsWith("\uFFFD") && text.startsWith(printed)) {
                    onText.accept(text.substring(printed.length()));
                    printed = text;
                }
                if (++pos >= limit) {
                    stop = "max-length";
                    break;
                }
                if (n == maxTokens) {
                    break;
                }
                o = model.forward(new int[] {next}, cache, LlamaModel.Options.LOGITS);
                cache = o.present();
                logits = o.logits().data();
            }
        }
        int[] tokens = Arrays.copyOf(out, n);
        String text = tokenizer.decode(tokens, true);
        if (text.length() > printed.length() && text.startsWith(printed)) {
            onText.accept(text.substring(printed.length()));
        }
        return new Result(tokens, text, stop);
    }
}
