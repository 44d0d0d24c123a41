package intactkv.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.model.LlamaConfig;
import intactkv.model.gguf.GgmlType;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * {@link GgufTypeRules} against independent statements of llama.cpp's choices: hand-derived tables for the
 * built-in model's shape, and the tensor-type counts llama.cpp's loader prints for LLaMA-2-7B files
 * ({@code llama_model_loader: - type q4_K: 193 tensors} ...), which the published Q4_K_M and Q3_K_M files of
 * that model show. The comparison with llama-quantize run on the built-in model is
 * {@link GgufLlamaQuantizeTest}.
 */
class GgufTypeRulesTest {
    /** examples/default-model: d 128, d_ff 384, 16 heads, 6 layers, V 1024, untied. */
    static final LlamaConfig BUILTIN = new LlamaConfig(128, 384, 16, 16, 6, 1e-5, 10000, 1024, 2048, false, 1, 2);
    /** LLaMA-2-7B: d 4096, d_ff 11008, 32 heads, 32 layers, V 32000, untied. */
    static final LlamaConfig LLAMA2_7B = new LlamaConfig(4096, 11008, 32, 32, 32, 1e-5, 10000, 32000, 4096, false, 1, 2);

    static Map<GgmlType, Integer> counts(LlamaConfig c, GgufMix mix) {
        Map<GgmlType, Integer> n = new TreeMap<>();
        GgufTypeRules.assign(c, mix).values().forEach(t -> n.merge(t, 1, Integer::sum));
        return n;
    }

    @Test
    void llama2SevenBQ4KMIsThePublishedMix() {
        // 65 norms F32; Q6_K: the head and attn_v, ffn_down of the 16 layers use_more_bits picks; the rest Q4_K
        assertEquals(Map.of(GgmlType.F32, 65, GgmlType.Q4_K, 193, GgmlType.Q6_K, 33), counts(LLAMA2_7B, GgufMix.Q4_K_M));
        Map<String, GgmlType> a = GgufTypeRules.assign(LLAMA2_7B, GgufMix.Q4_K_M);
        for (int i : new int[] {0, 3, 6, 9, 27, 28, 31}) {
            assertEquals(GgmlType.Q6_K, a.get("blk." + i + ".attn_v.weight"), "layer " + i);
            assertEquals(GgmlType.Q6_K, a.get("blk." + i + ".ffn_down.weight"), "layer " + i);
        }
        for (int i : new int[] {4, 5, 7, 26}) {
            assertEquals(GgmlType.Q4_K, a.get("blk." + i + ".attn_v.weight"), "layer " + i);
        }
        assertEquals(GgmlType.Q4_K, a.get("token_embd.weight"));
        assertEquals(GgmlType.Q6_K, a.get("output.weight"));
    }

    @Test
    void llama2SevenBQ3KMIsThePublishedMix() {
        assertEquals(Map.of(GgmlType.F32, 65, GgmlType.Q3_K, 129, GgmlType.Q4_K, 92, GgmlType.Q5_K, 4,
                GgmlType.Q6_K, 1), counts(LLAMA2_7B, GgufMix.Q3_K_M));
        Map<String, GgmlType> a = GgufTypeRules.assign(LLAMA2_7B, GgufMix.Q3_K_M);
        assertEquals(GgmlType.Q5_K, a.get("blk.1.attn_v.weight"));
        assertEquals(GgmlType.Q4_K, a.get("blk.2.attn_v.weight"));
        assertEquals(GgmlType.Q5_K, a.get("blk.1.ffn_down.weight"));
        assertEquals(GgmlType.Q4_K, a.get("blk.2.ffn_down.weight"));
        assertEquals(GgmlType.Q4_K, a.get("blk.7.attn_output.weight"));
        assertEquals(GgmlType.Q3_K, a.get("blk.7.ffn_up.weight"));
    }

    /**
     * The built-in model's rows are 128 (384 for ffn_down) long, not multiples of 256: every k-quant falls back
     * to a 32-element type, and the head to Q8_0 (its row is not a multiple of the default type's block).
     */
    @Test
    void builtInModelFallsBackToThirtyTwoElementTypes() {
        Map<String, GgmlType> q4 = GgufTypeRules.assign(BUILTIN, GgufMix.Q4_K_M);
        assertEquals(GgmlType.Q8_0, q4.get("output.weight"));
        assertEquals(GgmlType.Q5_0, q4.get("token_embd.weight")); // Q4_K -> Q5_0
        for (int i = 0; i < 6; i++) {
            // use_more_bits(i, 6): i < 0, i >= 5, (i - 0) % 3 == 2: layers 2 and 5; Q6_K -> Q8_0
            GgmlType more = i == 2 || i == 5 ? GgmlType.Q8_0 : GgmlType.Q5_0;
            assertEquals(more, q4.get("blk." + i + ".attn_v.weight"), "layer " + i);
            assertEquals(more, q4.get("blk." + i + ".ffn_down.weight"), "layer " + i);
            for (String m : new String[] {"attn_q", "attn_k", "attn_output", "ffn_gate", "ffn_up"}) {
                assertEquals(GgmlType.Q5_0, q4.get("blk." + i + "." + m + ".weight"), m + " layer " + i);
            }
            assertEquals(GgmlType.F32, q4.get("blk." + i + ".attn_norm.weight"));
            assertEquals(GgmlType.F32, q4.get("blk." + i + ".ffn_norm.weight"));
        }
        Map<String, GgmlType> q3 = GgufTypeRules.assign(BUILTIN, GgufMix.Q3_K_M);
        assertEquals(GgmlType.Q8_0, q3.get("output.weight"));
        assertEquals(GgmlType.Q4_0, q3.get("token_embd.weight")); // Q3_K -> Q4_0
        for (int i = 0; i < 6; i++) {
            assertEquals(i < 2 ? GgmlType.Q5_1 : GgmlType.Q5_0, q3.get("blk." + i + ".attn_v.weight"), "layer " + i);
            assertEquals(GgmlType.Q5_0, q3.get("blk." + i + ".ffn_down.weight"), "layer " + i); // 6/16 = 0: Q4_K
            assertEquals(GgmlType.Q5_0, q3.get("blk." + i + ".attn_output.weight"));
            for (String m : new String[] {"attn_q", "attn_k", "ffn_gate", "ffn_up"}) {
                assertEquals(GgmlType.Q4_0, q3.get("blk." + i + "." + m + ".weight"), m + " layer " + i);
            }
        }
        assertEquals(Map.of(GgmlType.F32, 13, GgmlType.Q8_0, 44), counts(BUILTIN, GgufMix.Q8_0));
        // Q4_0's head: Q6_K (a 128 row is a multiple of Q4_0's 32), which falls back to Q8_0
        assertEquals(GgmlType.Q8_0, GgufTypeRules.assign(BUILTIN, GgufMix.Q4_0).get("output.weight"));
        assertEquals(GgmlType.Q4_0, GgufTypeRules.assign(BUILTIN, GgufMix.Q4_0).get("token_embd.weight"));
    }

    @Test
    void pureNamesGiveEveryMatrixOneType() {
        LlamaConfig tiny = new LlamaConfig(2048, 5632, 32, 4, 22, 1e-5, 10000, 32000, 2048, false, 1, 2);
        assertEquals(Map.of(GgmlType.F32, 45, GgmlType.Q4_K, 156), counts(tiny, GgufMix.Q4_K));
        assertEquals(Map.of(GgmlType.F32, 45, GgmlType.Q3_K, 156), counts(tiny, GgufMix.Q3_K));
        // the built-in model: the fallback still applies (llama-quantize --pure does the same)
        assertEquals(Map.of(GgmlType.F32, 13, GgmlType.Q5_1, 44), counts(BUILTIN, GgufMix.Q5_K));
    }

    /** A tied model has no output.weight; its embedding is the head and gets the head's type. */
    @Test
    void aTiedEmbeddingGetsTheHeadsType() {
        LlamaConfig tied = new LlamaConfig(2048, 5632, 32, 4, 22, 1e-5, 10000, 32000, 2048, true, 1, 2);
        Map<String, GgmlType> a = GgufTypeRules.assign(tied, GgufMix.Q4_K_M);
        assertFalse(a.containsKey("output.weight"));
        assertEquals(GgmlType.Q6_K, a.get("token_embd.weight"));
        assertEquals(GgmlType.Q4_K, GgufTypeRules.assign(
                new LlamaConfig(2048, 5632, 32, 4, 22, 1e-5, 10000, 32000, 2048, false, 1, 2), GgufMix.Q4_K_M)
                .get("token_embd.weight"));
    }

    /** Q2_K's attn_v depends on grouped-query attention (n_gqa >= 4: Q4_K), and LLaMA-70B lifts attn_v. */
    @Test
    void groupedQueryAndSeventyBRules() {
        LlamaConfig tiny = new LlamaConfig(2048, 5632, 32, 4, 22, 1e-5, 10000, 32000, 2048, false, 1, 2);
        assertEquals(GgmlType.Q4_K, GgufTypeRules.assign(tiny, GgufMix.Q2_K).get("blk.3.attn_v.weight"));
        assertEquals(GgmlType.Q3_K, GgufTypeRules.assign(LLAMA2_7B, GgufMix.Q2_K).get("blk.3.attn_v.weight"));
        assertEquals(GgmlType.Q3_K, GgufTypeRules.assign(LLAMA2_7B, GgufMix.Q2_K).get("blk.3.ffn_down.weight"));
        LlamaConfig l70 = new LlamaConfig(8192, 28672, 64, 8, 80, 1e-5, 10000, 32000, 4096, false, 1, 2);
        assertEquals(GgmlType.Q5_K, GgufTypeRules.assign(l70, GgufMix.Q4_K_M).get("blk.11.attn_v.weight"));
        assertEquals(GgmlType.Q6_K, GgufTypeRules.assign(l70, GgufMix.Q4_K_M).get("blk.0.attn_v.weight"));
    }

    @Test
    void fallbackTableAndUseMoreBits() {
        assertEquals(GgmlType.Q4_0, GgufTypeRules.fallback(GgmlType.Q2_K, 128));
        assertEquals(GgmlType.Q4_0, GgufTypeRules.fallback(GgmlType.Q3_K, 128));
        assertEquals(GgmlType.Q5_0, GgufTypeRules.fallback(GgmlType.Q4_K, 128));
        assertEquals(GgmlType.Q5_1, GgufTypeRules.fallback(GgmlType.Q5_K, 384));
        assertEquals(GgmlType.Q8_0, GgufTypeRules.fallback(GgmlType.Q6_K, 384));
        assertEquals(GgmlType.Q4_K, GgufTypeRules.fallback(GgmlType.Q4_K, 512));
        assertEquals(GgmlType.F16, GgufTypeRules.fallback(GgmlType.Q4_K, 48));
        assertEquals(GgmlType.F16, GgufTypeRules.fallback(GgmlType.Q8_0, 16));
        // n = 32: 0..3, 28..31 and 6, 9, ..., 27
        int picked = 0;
        for (int i = 0; i < 32; i++) {
            picked += GgufTypeRules.useMoreBits(i, 32) ? 1 : 0;
        }
        assertEquals(16, picked);
        assertTrue(GgufTypeRules.useMoreBits(6, 32) && !GgufTypeRules.useMoreBits(7, 32));
    }

    @Test
    void namesParseCaseInsensitivelyAndUnknownOnesAreNamed() {
        assertEquals(GgufMix.Q4_K_M, GgufMix.parse("q4_k_m"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> GgufMix.parse("Q4_K_L"));
        assertTrue(e.getMessage().contains("'Q4_K_L'") && e.getMessage().contains("Q3_K_M, Q4_K_S, Q4_K_M"),
                e.getMessage());
        assertEquals("--pure Q4_K_M", GgufMix.Q4_K.llamaQuantizeArgs());
        assertEquals("Q4_K_M", GgufMix.Q4_K_M.llamaQuantizeArgs());
    }
}
