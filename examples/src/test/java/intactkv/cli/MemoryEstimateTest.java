package intactkv.cli;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.model.LlamaConfig;
import intactkv.quant.Method;
import org.junit.jupiter.api.Test;

/** The memory bounds checked before the work, and their refusals. */
class MemoryEstimateTest {
    /** LLaMA-2-7B's shape. */
    private static final LlamaConfig LLAMA7B = new LlamaConfig(4096, 11008, 32, 32, 32, 1e-5, 10000, 32000, 4096, false, 1, 2);
    /** The built-in model's shape (examples/default-model/config.json). */
    private static final LlamaConfig BUILT_IN = new LlamaConfig(128, 384, 16, 16, 6, 1e-5, 10000, 1024, 2048, false, 1, 2);

    @Test
    void theBoundsCountTheBuffersTheySay() {
        // one layer's probabilities h x T x (p + T) and the logits T x V, 8 bytes each
        assertEquals(8L * (16 * 4096 * 4096 + 4096 * 1024), MemoryEstimate.forward(BUILT_IN, 4096, 0));
        assertEquals(8L * (6L * 16 * 100 * 101 + 100 * 1024), MemoryEstimate.forwardForBackward(BUILT_IN, 100, 1));
        // AWQ keeps the linears' inputs too: 2d + 3d + d_ff per token
        assertEquals(8L * 128 * 512 * (2 * 128), MemoryEstimate.quantization(BUILT_IN, Method.GPTQ, 128, 512));
        assertEquals(8L * 128 * 512 * (5 * 128 + 384), MemoryEstimate.quantization(BUILT_IN, Method.AWQ, 128, 512));
        assertEquals(8L * BUILT_IN.parameterCount(), MemoryEstimate.weights(BUILT_IN));
        // inference keeps the weights in their file's dtype (>= 2 bytes) and a quantized copy as codes at their bit
        // width (>= 2 bits, a quarter byte)
        assertEquals(2L * BUILT_IN.parameterCount(), MemoryEstimate.inferenceWeights(BUILT_IN, 1));
        assertEquals(2L * BUILT_IN.parameterCount() + BUILT_IN.parameterCount() / 4, MemoryEstimate.inferenceWeights(BUILT_IN, 2));
    }

    /** Issue row: ppl --seqlen 4096 on a real model ended in an OutOfMemoryError stack trace; now refused first. */
    @Test
    void aWindowThatCannotFitIsRefusedWithTheEstimateTheHeapAndTheSetting() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> MemoryEstimate.requireWindows(LLAMA7B, "--seqlen 4096", 4096, 0, 2, 2));
        String m = e.getMessage();
        assertTrue(m.startsWith("--seqlen 4096 (attention probabilities of 32 heads x 4096 x 4096 and logits 4096 x 32000"
                + " in doubles, 2 copies of "), m);
        assertTrue(m.contains("needs at least ") && m.contains(" GB of memory, more than this Java's heap of ")
                && m.contains("INTACTKV_JAVA_OPTS=-Xmx"), m);
    }

    @Test
    void anAbsurdSizeSaysSoInsteadOfOverflowing() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> MemoryEstimate.requireBackward(BUILT_IN, "--batch 2000000000", 2_000_000_000L, 2_000_000_000L, 0,
                        MemoryEstimate.times(MemoryEstimate.weights(BUILT_IN), 4)));
        assertTrue(e.getMessage().contains("needs more memory than any machine has"), e.getMessage());
        assertEquals(Long.MAX_VALUE, MemoryEstimate.times(Long.MAX_VALUE / 2, 3));
        assertEquals(Long.MAX_VALUE, MemoryEstimate.plus(Long.MAX_VALUE, 1));
    }

    @Test
    void whatFitsPasses() {
        assertDoesNotThrow(() -> MemoryEstimate.requireWindows(BUILT_IN, "--seqlen 128", 128, 0, 2, 2));
        assertDoesNotThrow(() -> MemoryEstimate.requireQuantization(BUILT_IN, Method.AWQ, 16, 128, "--calib-samples 16"));
    }

    @Test
    void sizesAndSuggestedHeapsReadWell() {
        assertEquals("512 MB", Memory.size(512L << 20));
        assertEquals("2.5 GB", Memory.size(5L << 29));
        assertEquals("3g", Memory.suggestedXmx(2L << 30), "a quarter above the estimate, rounded up");
    }
}
