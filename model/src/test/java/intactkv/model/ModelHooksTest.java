package intactkv.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.autograd.GradMode;
import intactkv.autograd.LinearAlgebra;
import intactkv.autograd.Value;
import intactkv.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The query hook: off by default, and an orthogonal transform on queries and keys keeps the scores. */
class ModelHooksTest {
    // GQA: 4 heads of 4 sharing 2 KV heads
    static final LlamaConfig C = new LlamaConfig(16, 24, 4, 2, 2, 1e-5, 10000, 20, 32, false, 1, 2);
    static final int[] IDS = {1, 5, 7, 3, 12, 9};

    static Tensor logits(LlamaModel m, int[] ids, KvCache past) {
        try (GradMode.Scope s = GradMode.noGrad()) {
            return m.forward(ids, past, LlamaModel.Options.LOGITS).logits().data();
        }
    }

    static KvCache present(LlamaModel m, int[] ids) {
        try (GradMode.Scope s = GradMode.noGrad()) {
            return m.forward(ids, null, LlamaModel.Options.LOGITS).present();
        }
    }

    /** A signed permutation of d_h = 4 axes (orthogonal, exact in double). */
    static final Value R = Value.constant(Tensor.of(new double[] {
        0, -1, 0, 0,
        0, 0, 0, 1,
        1, 0, 0, 0,
        0, 0, -1, 0}, 4, 4));

    @Test
    void defaultQueryHookChangesNothing() {
        LlamaWeights w = LlamaWeights.random(C, 3, 0.5, true, false);
        List<int[]> seen = new ArrayList<>();
        ModelHooks observe = new ModelHooks() {
            @Override
            public Value newQueries(int layer, Value q) {
                seen.add(q.shape().dims());
                return ModelHooks.NONE.newQueries(layer, q);
            }
        };
        assertArrayEquals(logits(new LlamaModel(w), IDS, null).data(), logits(new LlamaModel(w, observe), IDS, null).data(),
                0.0);
        assertEquals(C.numHiddenLayers(), seen.size());
        assertArrayEquals(new int[] {1, C.numAttentionHeads(), IDS.length, C.headDim()}, seen.get(0));
    }

    @Test
    void orthogonalQueryKeyPairKeepsTheLogits() {
        LlamaWeights w = LlamaWeights.random(C, 4, 0.5, true, false);
        ModelHooks rotate = new ModelHooks() {
            @Override
            public Value newQueries(int layer, Value q) {
                return LinearAlgebra.matmul(q, R);
            }

            @Override
            public Value newKeys(int layer, Value k) {
                return LinearAlgebra.matmul(k, R);
            }
        };
        LlamaModel plain = new LlamaModel(w);
        LlamaModel rotated = new LlamaModel(w, rotate);
        Tensor a = logits(plain, IDS, null);
        Tensor b = logits(rotated, IDS, null);
        // the scores sum the same d_h products in another order: rounding only
        for (int i = 0; i < a.numel(); i++) {
            assertEquals(a.data()[i], b.data()[i], 1e-12 * a.maxAbs());
        }
        // decoding after a past the rotated model cached itself (its keys are rotated too)
        int[] head = {1, 5, 7};
        int[] tail = {3, 12, 9};
        Tensor c = logits(plain, tail, present(plain, head));
        Tensor d = logits(rotated, tail, present(rotated, head));
        for (int i = 0; i < c.numel(); i++) {
            assertEquals(c.data()[i], d.data()[i], 1e-12 * c.maxAbs());
        }
        // queries rotated against an unrotated past: the scores change, so the hook is applied
        Tensor e = logits(rotated, tail, present(plain, head));
        double worst = 0;
        for (int i = 0; i < c.numel(); i++) {
            worst = Math.max(worst, Math.abs(c.data()[i] - e.data()[i]));
        }
        assertTrue(worst > 1e-6, "max difference " + worst);
    }
}
