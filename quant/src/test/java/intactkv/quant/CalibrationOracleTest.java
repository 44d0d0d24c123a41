package intactkv.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The loaders pick exactly the documents and offsets of the official loaders' statements run by
 * CPython on the same token id lists: {@code fixtures/calibration_loaders.json}, written by
 * {@code tools/oracle/calibration_loaders_fixture.py} (get_c4_new, get_calib_dataset with
 * Python's shuffle standing for the dataset shuffle, get_wikitext2). Exact equality: these are
 * integers.
 */
class CalibrationOracleTest {
    static JsonObject root;

    @BeforeAll
    static void read() throws Exception {
        try (InputStream in = CalibrationOracleTest.class.getResourceAsStream("/fixtures/calibration_loaders.json")) {
            root = JsonParser.parseReader(new InputStreamReader(in, StandardCharsets.UTF_8)).getAsJsonObject();
        }
    }

    @Test
    void gptqPicksTheOfficialDocumentsAndOffsets() {
        int cases = 0;
        int redraws = 0;
        for (JsonElement e : root.getAsJsonArray("gptq")) {
            JsonObject c = e.getAsJsonObject();
            List<int[]> docs = lists(c.getAsJsonArray("documents"));
            int seqlen = c.get("seqlen").getAsInt();
            int n = c.get("nsamples").getAsInt();
            IntFunction<int[]> tokens = docs::get;
            List<RandomDocumentWindows.Pick> picks = RandomDocumentWindows.pick(docs.size(), tokens, n, seqlen,
                    c.get("seed").getAsLong(), "fixture");
            List<int[]> expected = lists(c.getAsJsonArray("picks"));
            assertEquals(expected.size(), picks.size());
            for (int k = 0; k < n; k++) {
                assertEquals(new RandomDocumentWindows.Pick(expected.get(k)[0], expected.get(k)[1]), picks.get(k),
                        "case " + cases + " sample " + k);
            }
            List<int[]> windows = RandomDocumentWindows.windows(picks, tokens, seqlen);
            assertEquals(n, windows.size());
            assertTrue(windows.stream().allMatch(w -> w.length == seqlen));
            long shortDocs = docs.stream().filter(d -> d.length <= seqlen).count();
            redraws += shortDocs > 0 ? 1 : 0;
            cases++;
        }
        assertEquals(3, cases);
        assertEquals(3, redraws, "every case has documents too short, so the redraw loop is exercised");
    }

    @Test
    void awqKeepsTheOfficialDocumentsAndBlocks() {
        int cases = 0;
        for (JsonElement e : root.getAsJsonArray("awq")) {
            JsonObject c = e.getAsJsonObject();
            List<int[]> docs = lists(c.getAsJsonArray("documents"));
            long seed = c.get("seed").getAsLong();
            int n = c.get("nsamples").getAsInt();
            List<Integer> order = new ArrayList<>();
            c.getAsJsonArray("order").forEach(x -> order.add(x.getAsInt()));
            assertEquals(order, ShortDocumentBlocks.order(docs.size(), seed));
            List<Integer> kept = ShortDocumentBlocks.kept(docs.size(), docs::get, n, seed, "fixture");
            List<Integer> expectedKept = new ArrayList<>();
            c.getAsJsonArray("kept").forEach(x -> expectedKept.add(x.getAsInt()));
            assertEquals(expectedKept, kept);
            List<int[]> blocks = ShortDocumentBlocks.blocks(kept, docs::get, c.get("block").getAsInt(), "fixture");
            List<int[]> expected = lists(c.getAsJsonArray("blocks"));
            assertEquals(expected.size(), blocks.size());
            for (int b = 0; b < blocks.size(); b++) {
                assertArrayEquals(expected.get(b), blocks.get(b), "case " + cases + " block " + b);
            }
            // the case passes over documents longer than 512 tokens and empty ones before its last kept one
            List<Integer> read = order.subList(0, order.indexOf(kept.get(kept.size() - 1)) + 1);
            assertTrue(read.stream().anyMatch(d -> docs.get(d).length > ShortDocumentBlocks.MAX_DOCUMENT_TOKENS));
            assertTrue(read.stream().anyMatch(d -> docs.get(d).length == 0));
            cases++;
        }
        assertEquals(2, cases);
    }

    @Test
    void joinedTextWindowsTakeTheOfficialOffsets() {
        int cases = 0;
        for (JsonElement e : root.getAsJsonArray("wikitext2")) {
            JsonObject c = e.getAsJsonObject();
            int seqlen = c.get("seqlen").getAsInt();
            int n = c.get("nsamples").getAsInt();
            long seed = c.get("seed").getAsLong();
            CalibrationLoader loader = seed == 2 ? CalibrationLoader.OMNIQUANT : CalibrationLoader.QUAROT;
            assertEquals(seed, loader.officialSeed());
            int[] expected = ints(c.getAsJsonArray("offsets"));
            if (c.has("ids")) {
                int[] ids = ints(c.getAsJsonArray("ids"));
                assertArrayEquals(expected, JoinedTextWindows.offsets(ids.length, n, seqlen, seed, loader, "fixture"));
                List<int[]> w = JoinedTextWindows.windows(ids, n, seqlen, seed, loader, "fixture");
                for (int k = 0; k < n; k++) {
                    assertArrayEquals(java.util.Arrays.copyOfRange(ids, expected[k], expected[k] + seqlen), w.get(k));
                }
            } else {
                assertArrayEquals(expected, JoinedTextWindows.offsets(c.get("ntokens").getAsInt(), n, seqlen, seed, loader,
                        "fixture"));
            }
            cases++;
        }
        assertEquals(3, cases);
    }

    private static List<int[]> lists(JsonArray a) {
        List<int[]> out = new ArrayList<>(a.size());
        for (JsonElement e : a) {
            out.add(ints(e.getAsJsonArray()));
        }
        return out;
    }

    private static int[] ints(JsonArray a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).getAsInt();
        }
        return out;
    }
}
