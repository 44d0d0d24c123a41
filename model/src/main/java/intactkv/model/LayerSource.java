package intactkv.model;

/**
 * Where a layer-by-layer driver (GPTQ, QuaRot, AWQ, OmniQuant's clipping, RTN) gets decoder layer l's
 * weights: at the top of layer l it asks for them with {@link #reach(LlamaWeights, int)}, and from then on
 * uses only {@code current.block(l)} of the weights it holds. The drivers never read a block above the
 * layer they are on (each layer's calibration inputs are the previous layer's outputs), which is what lets
 * a source hand out layers one at a time.
 *
 * <p>Two sources: {@link #IN_MEMORY}, for weights loaded whole (every block already held, nothing to do:
 * the path every caller had before), and {@link LazyCheckpoint}, which reads block l from the
 * safetensors file(s) only when it is reached, so that the layers not yet reached take no memory.
 */
@FunctionalInterface
public interface LayerSource {
    /**
     * Block {@code l} to use from now on, given the block {@code held} in its place until now (the loaded
     * block, or a placeholder with the right shapes and no data). Called once per layer, in increasing order.
     * A checkpoint read error is thrown as {@link java.io.UncheckedIOException} around the reader's
     * {@link java.io.IOException}, which names the file and the tensor.
     */
    LlamaWeights.Block block(int l, LlamaWeights.Block held);

    /** Every block is already in memory (weights loaded whole): hands back the held block itself. */
    LayerSource IN_MEMORY = (l, held) -> held;

    /** {@code w} with block {@code l} as this source gives it; {@code w} itself when the block is unchanged. */
    default LlamaWeights reach(LlamaWeights w, int l) {
        LlamaWeights.Block held = w.block(l);
        LlamaWeights.Block b = block(l, held);
        return b == held ? w : w.withBlock(l, b);
    }
}
