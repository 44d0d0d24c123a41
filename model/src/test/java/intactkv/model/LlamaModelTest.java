package intactkv.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.autograd.Functional;
import intactkv.autograd.GradCheck;
import intactkv.autograd.GradMode;
import intactkv.autograd.Value;
import intactkv.model.io.DType;
import intactkv.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LlamaModelTest {
    static final LlamaConfig TINY = new LlamaConfig(8, 12, 2, 1, 2, 1e-5, 10000, 11, 32, false, 1, 2);

    @TempDir
    Path tmp;

    @Test
    void configValidationNamesTheField() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new LlamaConfig(10, 12, 3, 1, 2, 1e-5, 10000, 11, 32, false, 1, 2));
        assertTrue(e.getMessage().contains("hidden_size 10") && e.getMessage().contains("num_attention_heads 3"));
        assertThrows(IllegalArgumentException.class, () -> new LlamaConfig(8, 12, 2, 3, 2, 1e-5, 1e4, 11, 32, false, 1, 2));
        assertThrows(IllegalArgumentException.class, () -> new LlamaConfig(8, 12, 2, 1, 2, 1e-5, 1e4, 11, 32, false, 1, 11));
    }

    @Test
    void configFileErrorsNameTheFile() throws IOException {
        Path f = tmp.resolve("config.json");
        Files.writeString(f, "{\"model_type\": \"llama\", \"hidden_size\": 10, \"intermediate_size\": 4,"
                + " \"num_attention_heads\": 3,"
                + " \"num_hidden_layers\": 1, \"vocab_size\": 9}");
        IOException e = assertThrows(IOException.class, () -> LlamaConfig.read(f));
        assertTrue(e.getMessage().contains(f.toString()) && e.getMessage().contains("divisible"), e.getMessage());
        Files.writeString(f, "{\"model_type\": \"llama\", \"hidden_size\": 8}");
        e = assertThrows(IOException.class, () -> LlamaConfig.read(f));
        assertTrue(e.getMessage().contains("missing field"), e.getMessage());
    }

    @Test
    void saveLoadRoundTripAndShapeErrors() throws IOException {
        LlamaWeights w = LlamaWeights.random(TINY, 3, 0.5, true, false);
        Path dir = tmp.resolve("m");
        w.save(dir, DType.F64);
        LlamaWeights back = LlamaWeights.load(dir, false);
        assertEquals(TINY, back.config());
        int[] ids = {1, 5, 7, 3};
        try (GradMode.Scope s = GradMode.noGrad()) {
            Tensor a = new LlamaModel(w).forward(ids, null, LlamaModel.Options.LOGITS).logits().data();
            Tensor b = new LlamaModel(back).forward(ids, null, LlamaModel.Options.LOGITS).logits().data();
            org.junit.jupiter.api.Assertions.assertArrayEquals(a.data(), b.data(), 0.0);
        }
        // a config that disagrees with the checkpoint
        new LlamaConfig(8, 16, 2, 1, 2, 1e-5, 10000, 11, 32, false, 1, 2).write(dir.resolve("config.json"), "float64");
        IOException e = assertThrows(IOException.class, () -> LlamaWeights.load(dir, false));
        assertTrue(e.getMessage().contains("model.layers.0.mlp.gate_proj.weight") && e.getMessage().contains("(12, 8)"),
                e.getMessage());
        IOException missing = assertThrows(IOException.class, () -> LlamaWeights.load(tmp.resolve("none"), false));
        assertTrue(missing.getMessage().contains("config.json"), missing.getMessage());
    }

    @Test
    void tokenOutsideVocabularyIsRejected() {
        LlamaModel m = new LlamaModel(LlamaWeights.random(TINY, 3, 0.5, false, false));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> m.forward(new int[] {1, 11}, null, LlamaModel.Options.LOGITS));
        assertTrue(e.getMessage().contains("token id 11") && e.getMessage().contains("position 1"), e.getMessage());
    }

    @Test
    void inferenceRecordsNoGraphAndTrainingDoes() {
        LlamaWeights trainable = LlamaWeights.random(TINY, 4, 0.5, true, true);
        LlamaModel m = new LlamaModel(trainable);
        try (GradMode.Scope s = GradMode.noGrad()) {
            assertFalse(m.forward(new int[] {1, 4}, null, LlamaModel.Options.LOGITS).logits().requiresGrad());
        }
        Value logits = m.forward(new int[] {1, 4}, null, LlamaModel.Options.LOGITS).logits();
        assertTrue(logits.requiresGrad());
        Value loss = Functional.crossEntropy(intactkv.autograd.Shaping.reshape(logits, 2, 11), new int[] {4, 9});
        loss.backward();
        assertEquals(trainable.parameters().size(), trainable.parameters().stream()
                .filter(p -> p.value().grad() != null).count(), "every weight receives a gradient");
    }

    /** The whole forward pass through the engine against finite differences, for two weights and a past. */
    @Test
    void forwardGradientsMatchFiniteDifferences() {
        LlamaWeights w = LlamaWeights.random(TINY, 5, 0.5, true, false);
        LlamaModel m = new LlamaModel(w);
        KvCache past;
        try (GradMode.Scope s = GradMode.noGrad()) {
            past = m.forward(new int[] {1, 3}, null, LlamaModel.Options.LOGITS).present();
        }
        Tensor k0 = past.keys().get(0).data().reshape(1, 2, 4);
        Tensor v1 = past.values().get(1).data().reshape(1, 2, 4);
        int[] ids = {6, 2, 9};
        GradCheck.assertGradients("model forward w.r.t. past K (layer 0) and V (layer 1)", in -> {
            KvCache cache = new KvCache(List.of(in[0], past.keys().get(1).detach()),
                    List.of(past.values().get(0).detach(), in[1]));
            return m.forward(ids, cache, LlamaModel.Options.LOGITS).logits();
        }, 7, GradCheck.DEFAULT_TOLERANCE, k0.reshape(1, 1, 2, 4), v1.reshape(1, 1, 2, 4));
    }
}
