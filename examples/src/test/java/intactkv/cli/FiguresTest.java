package intactkv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import intactkv.figure.ColourScale;
import intactkv.figure.HeatMap;
import intactkv.figure.LinePlot;
import intactkv.figure.Png;
import intactkv.model.AttentionMass;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.text.Tokenizer;
import intactkv.prefix.PivotAnalysis;
import intactkv.tensor.Tensor;
import java.awt.Color;
import java.awt.Rectangle;
import java.awt.image.BufferedImage;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The figures and JSON files of analyze and theory-report on a small random model: the written
 * PNGs checked pixel by pixel against their figure models (orientation, masked triangle, y axis
 * from 0), their provenance (PNG text chunks and the JSON "provenance" object), and texts too
 * short for an analysis refused by flag, with no folder written.
 */
class FiguresTest {
    static final String TEXT = "ab a b ab ba b a ab ba ab a b";

    @TempDir
    static Path dir;
    static Path model;
    static Path analysis;
    static String[] analyzed;

    @BeforeAll
    static void analyze() throws Exception {
        model = ModelCommandsTest.tinyModel(dir.resolve("tiny"));
        analysis = dir.resolve("analysis");
        analyzed = MainTest.run("analyze", "--model", model.toString(), "--text", TEXT, "--out", analysis.toString(),
                "--max-prefix", "3", "--from-query", "4", "--method", "rtn", "--wbits", "3", "--group", "8");
    }

    static Color at(BufferedImage img, Rectangle r) {
        return new Color(img.getRGB(r.x + r.width / 2, r.y + r.height / 2));
    }

    /** A provenance with the values the analyze run above records, for building the same figure models. */
    static Provenance sameProvenance() {
        return new Provenance("x", null, null, Map.of(), Provenance.Input.text(TEXT));
    }

    /** The attention map as written: query 0 in the top row giving key 0 all its attention, the rest of it masked. */
    @Test
    void attentionMapIsTheCausalTriangleTheRightWayUp() throws Exception {
        assertEquals("0", analyzed[0], analyzed[2]);
        Tokenizer tok = Tokenizer.load(model.resolve("tokenizer.json"));
        int[] ids = tok.encode(TEXT, true);
        LlamaModel m = new LlamaModel(LlamaWeights.load(model, false));
        Tensor att = PivotAnalysis.meanAttentionMap(AttentionMass.attentions(m, ids).get(1));
        HeatMap h = Charts.attention(att, "Attention (mean over heads), layer 1", sameProvenance());
        assertTrue(h.spec().title().endsWith("all " + ids.length + " positions"), h.spec().title());
        assertTrue(h.spec().scale().title().startsWith("attention probability (log scale"), h.spec().scale().title());
        BufferedImage img = ImageIO.read(analysis.resolve("attention_layer1.png").toFile());
        int t = ids.length;
        assertEquals(h.spec().scale().colour(1.0), at(img, h.cell(0, 0)), "query 0 (top-left) attends only to [BOS]");
        assertEquals(h.plotArea().y, h.cell(0, 0).y);
        for (int j = 1; j < t; j++) {
            assertEquals(ColourScale.MASKED, at(img, h.cell(0, j)), "query 0, key " + j + " is masked");
        }
        assertEquals(h.spec().scale().colour(att.get(t - 1, 0)), at(img, h.cell(t - 1, 0)), "last query, bottom row");
        assertEquals(h.spec().scale().colour(att.get(t - 1, t - 1)), at(img, h.cell(t - 1, t - 1)));
    }

    /** The MSE curve as written: its y axis starts at 0 at the bottom of the plot, ticks labelled alike. */
    @Test
    void mseCurveStartsAtZero() throws Exception {
        JsonObject json = JsonParser.parseString(Files.readString(analysis.resolve("analysis.json"))).getAsJsonObject();
        var arr = json.getAsJsonArray("last_layer_mse_by_intactkv_size");
        double[][] curve = new double[2][arr.size()];
        for (int i = 0; i < arr.size(); i++) {
            curve[0][i] = i;
            curve[1][i] = arr.get(i).getAsDouble();
        }
        Map<String, double[][]> series = new LinkedHashMap<>();
        series.put("rtn w3g8 a16 kv16", curve);
        LinePlot p = Charts.curves("Last-layer output MSE vs IntactKV size (positions >= 3)",
                "IntactKV size (tokens kept lossless)", "MSE to full precision", series, 0, sameProvenance());
        assertEquals(0, p.spec().y().min());
        assertEquals(List.of("0", "1", "2", "3"), p.spec().x().ticks().stream().map(k -> k.label()).toList());
        BufferedImage img = ImageIO.read(analysis.resolve("mse_vs_intactkv_size.png").toFile());
        Color zeroTick = new Color(img.getRGB(p.plotArea().x - 3, p.yPixel(0)));
        assertTrue(zeroTick.getRed() + zeroTick.getGreen() + zeroTick.getBlue() < 200, "the 0 tick at the bottom edge");
        Color point = new Color(img.getRGB(p.xPixel(0), p.yPixel(curve[1][0])));
        assertEquals(LinePlot.PALETTE.get(0), point, "size 0 drawn where the model puts it");
    }

    /** Every PNG and analysis.json name the command, the model's file hashes and the input. */
    @Test
    void analyzeOutputsRecordTheirProvenance() throws Exception {
        assertEquals("0", analyzed[0], analyzed[2]);
        String weights = DefaultModel.sha256(model.resolve("model.safetensors"));
        String textSha = Provenance.sha256(TEXT.getBytes(StandardCharsets.UTF_8));
        for (String f : new String[] {"activations_layer0.png", "attention_layer1.png", "attention_on_bos.png",
            "mse_vs_intactkv_size.png"}) {
            Map<String, String> text = Png.readText(analysis.resolve(f));
            assertTrue(text.get("Model SHA-256").contains(weights + "  model.safetensors"), f + ": " + text);
            assertEquals("text: " + TEXT, text.get("Input"), f);
            assertEquals(textSha, text.get("Input SHA-256"), f);
            assertTrue(text.get("Command").startsWith("intactkv analyze --model " + model)
                    && text.get("Command").contains("--text '" + TEXT + "'"), text.get("Command"));
            assertFalse(text.get("Title").isBlank(), f);
        }
        JsonObject p = JsonParser.parseString(Files.readString(analysis.resolve("analysis.json"))).getAsJsonObject()
                .getAsJsonObject("provenance");
        assertEquals(weights, p.getAsJsonObject("model").getAsJsonObject("sha256").get("model.safetensors").getAsString());
        assertEquals(model.toString(), p.getAsJsonObject("model").get("given_as").getAsString());
        assertEquals("text", p.getAsJsonObject("input").get("kind").getAsString());
        assertEquals(TEXT, p.getAsJsonObject("input").get("value").getAsString());
        assertEquals(textSha, p.getAsJsonObject("input").get("sha256").getAsString());
        assertTrue(p.get("command").getAsString().contains("--from-query 4"), p.toString());
    }

    /** A text file is recorded by path and the SHA-256 of its bytes. */
    @Test
    void textFileInputIsHashed() throws Exception {
        Path text = dir.resolve("in.txt");
        Files.writeString(text, "ab a b ab ba\nb a ab ba ab a b\n");
        Path out = dir.resolve("analysis-file");
        String[] r = MainTest.run("analyze", "--model", model.toString(), "--text-file", text.toString(), "--out",
                out.toString(), "--max-prefix", "2", "--from-query", "4");
        assertEquals("0", r[0], r[2]);
        JsonObject in = JsonParser.parseString(Files.readString(out.resolve("analysis.json"))).getAsJsonObject()
                .getAsJsonObject("provenance").getAsJsonObject("input");
        assertEquals("file", in.get("kind").getAsString());
        assertEquals(text.toString(), in.get("value").getAsString());
        assertEquals(DefaultModel.sha256(text), in.get("sha256").getAsString());
    }

    /** The rows: an empty or two-letter text is refused by flag and token count; nothing is drawn. */
    @Test
    void textsTooShortAreRefusedByFlag() {
        Path never = dir.resolve("never");
        String[] empty = MainTest.run("analyze", "--model", model.toString(), "--text", "", "--out", never.toString());
        assertEquals("1", empty[0]);
        assertTrue(empty[2].contains("the text has 1 token ([BOS] included)") && empty[2].contains("--from-query 32")
                && empty[2].contains("at least 33 tokens"), empty[2]);
        String[] hi = MainTest.run("analyze", "--model", model.toString(), "--text", "hi", "--out", never.toString());
        assertEquals("1", hi[0]);
        assertTrue(hi[2].contains("--from-query") && hi[2].contains("or a smaller --from-query (1.."), hi[2]);
        String[] prefix = MainTest.run("analyze", "--model", model.toString(), "--text", "hi", "--out", never.toString(),
                "--from-query", "1", "--max-prefix", "8");
        assertEquals("1", prefix[0]);
        assertTrue(prefix[2].contains("--max-prefix 8") && prefix[2].contains("at least 9 tokens"), prefix[2]);
        String[] theory = MainTest.run("theory-report", "--model", model.toString(), "--text", "", "--heads", "2",
                "--out", never.toString());
        assertEquals("1", theory[0]);
        assertTrue(theory[2].contains("--text gives 1 token") && theory[2].contains("at least 2 tokens"), theory[2]);
        String[] noModel = MainTest.run("theory-report", "--text", "a b c", "--heads", "2", "--out", never.toString());
        assertEquals("1", noModel[0]);
        assertTrue(noModel[2].contains("--text is read only with --model"), noModel[2]);
        assertFalse(Files.exists(never), "no folder, no PNG");
    }

    /** A flag the chosen input does not use is refused by name, not ignored. */
    @Test
    void flagsWithoutEffectAreRefused() throws Exception {
        Path never = dir.resolve("never-flags");
        Path chat = dir.resolve("chat.jsonl");
        Files.writeString(chat, "{}\n");
        String[] q = MainTest.run("analyze", "--model", model.toString(), "--sharegpt", chat.toString(), "--from-query",
                "4", "--out", never.toString());
        assertEquals("1", q[0]);
        assertTrue(q[2].contains("--from-query has no effect with --sharegpt"), q[2]);
        String[] s = MainTest.run("analyze", "--model", model.toString(), "--text", TEXT, "--samples", "4", "--out",
                never.toString());
        assertEquals("1", s[0]);
        assertTrue(s[2].contains("--samples has no effect without --sharegpt"), s[2]);
        assertFalse(Files.exists(never));
    }

    /** theory-report: the scatter and the JSON carry the provenance; the JSON keeps one summary per group. */
    @Test
    void theoryReportRecordsItsProvenance() throws Exception {
        Path out = dir.resolve("theory");
        String[] r = MainTest.run("theory-report", "--model", model.toString(), "--text", "ab a b", "--heads", "3",
                "--out", out.toString());
        assertEquals("0", r[0], r[2]);
        JsonObject json = JsonParser.parseString(Files.readString(out.resolve("theory_report.json"))).getAsJsonObject();
        assertEquals(3, json.getAsJsonArray("summaries").size());
        assertEquals("ab a b", json.getAsJsonObject("provenance").getAsJsonObject("input").get("value").getAsString());
        Map<String, String> text = Png.readText(out.resolve("bound_vs_actual.png"));
        assertTrue(text.get("Command").startsWith("intactkv theory-report --model"), text.toString());
        assertTrue(text.get("Model SHA-256").contains("model.safetensors"), text.toString());
        Path random = dir.resolve("theory-random");
        String[] g = MainTest.run("theory-report", "--heads", "2", "--out", random.toString());
        assertEquals("0", g[0], g[2]);
        JsonObject p = JsonParser.parseString(Files.readString(random.resolve("theory_report.json"))).getAsJsonObject()
                .getAsJsonObject("provenance");
        assertTrue(p.get("model").isJsonNull());
        assertEquals("generated", p.getAsJsonObject("input").get("kind").getAsString());
    }

    @Test
    void commandLinesAreQuotedForTheShell() {
        assertEquals("--text", Provenance.quote("--text"));
        assertEquals("'a b'", Provenance.quote("a b"));
        assertEquals("''", Provenance.quote(""));
        assertEquals("'it'\\''s'", Provenance.quote("it's"));
    }
}
