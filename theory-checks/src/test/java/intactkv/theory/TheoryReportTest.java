package intactkv.theory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.model.LlamaConfig;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.quant.DynamicQuantizer;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The model-head measurement needs a token past the intact prefix; with one it measures every head. */
class TheoryReportTest {
    static final LlamaConfig CONFIG = new LlamaConfig(16, 24, 2, 2, 2, 1e-5, 10000, 32, 64, true, 1, 2);

    @Test
    void aTextNoLongerThanThePrefixIsRefused() {
        LlamaModel m = new LlamaModel(LlamaWeights.random(CONFIG, 3, 0.3, true, false));
        DynamicQuantizer kv = new DynamicQuantizer(4, false, 1.0, 0);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TheoryReport.modelHeads(m, new int[] {1}, kv, 1));
        assertTrue(e.getMessage().contains("at least 2 tokens") && e.getMessage().contains("got 1"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> TheoryReport.modelHeads(m, new int[] {1, 5, 6}, kv, 3));
        List<TheoryReport.Row> rows = TheoryReport.modelHeads(m, new int[] {1, 5}, kv, 1);
        assertEquals(CONFIG.numHiddenLayers() * CONFIG.numAttentionHeads(), rows.size());
        for (TheoryReport.Row r : rows) {
            assertTrue(r.attentionOnPrefix() > 0 && r.attentionOnPrefix() < 1, r.toString());
        }
    }
}
