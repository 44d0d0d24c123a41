package intactkv.cli;

import static intactkv.cli.BadInputTest.assertRefused;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.text.ChatTemplate;
import intactkv.model.text.Sampler;
import intactkv.model.text.Tokenizer;
import intactkv.prefix.IntactKvPrefix;
import intactkv.prefix.PrefixSpec;
import intactkv.prefix.PrefixedModel;
import intactkv.quant.QuantConfig;
import intactkv.quant.QuantizedModel;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 28, deliverable 1, on the command line: {@code generate} takes ppl's model, quantization
 * and IntactKV flags, prints what {@link PrefixedModel#generate} writes, and refuses by name the
 * combinations that make no sense, before any model work.
 */
class GenerateQuantizedCommandTest {
    @TempDir
    static Path dir;
    static LlamaWeights fp;
    static Tokenizer tok;
    static final String PROMPT = "a small domesticated";
    static final String N = "8";

    @BeforeAll
    static void load() throws Exception {
        fp = LlamaWeights.load(IntactKvFidelityTest.MODEL, false);
        tok = Tokenizer.load(IntactKvFidelityTest.MODEL.resolve("tokenizer.json"));
    }

    static String[] generate(String... more) {
        String[] base = {"generate", "--model", IntactKvFidelityTest.MODEL.toString(), "--prompt", PROMPT, "--max-tokens", N};
        String[] a = Arrays.copyOf(base, base.length + more.length);
        System.arraycopy(more, 0, a, base.length, more.length);
        return BadInputTest.run(a);
    }

    /** What the library writes for {@code model} with prefix {@code which}, as the command prints it. */
    static String expected(QuantizedModel q, String which, boolean chat) throws Exception {
        PrefixedModel run = new PrefixedModel(q == null ? new LlamaModel(fp) : q.model(),
                PrefixSpec.resolve(which, q == null ? new LlamaModel(fp) : q.twin(), tok));
        int[] ids = tok.encode(chat ? ChatTemplate.vicunaPrompt(PROMPT) : PROMPT, true);
        return PROMPT + run.generate(tok, ids, Integer.parseInt(N), Sampler.greedy(), s -> { }).text()
                + System.lineSeparator();
    }

    /**
     * RTN W3 g128 with and without IntactKV_[B]: the output is the library's, the quantized model
     * writes something else than full precision, and the lossless [BOS] entry changes it again.
     */
    @Test
    void quantizedGenerationWithIntactKvIsTheLibrarys() throws Exception {
        String[] full = generate();
        String[] none = generate("--method", "rtn", "--wbits", "3", "--group", "128", "--intactkv", "none");
        String[] bos = generate("--method", "rtn", "--wbits", "3", "--group", "128", "--intactkv", "bos");
        for (String[] r : new String[][] {full, none, bos}) {
            assertEquals("0", r[0], r[2]);
        }
        QuantizedModel q = QuantizedModel.quantize(fp, QuantConfig.rtn(3, 128), null, (a, b) -> { });
        assertEquals(expected(null, "none", false), full[1]);
        assertEquals(expected(q, "none", false), none[1]);
        assertEquals(expected(q, "bos", false), bos[1]);
        assertNotEquals(full[1], none[1], "RTN W3 writes what full precision writes");
        assertNotEquals(none[1], bos[1], "IntactKV_[B] changed nothing");
        assertTrue(bos[2].contains("rtn w3g128 a16 kv16, intactkv bos]"), bos[2]);
        assertTrue(full[2].endsWith("stopped at max-tokens]" + System.lineSeparator()), "fp line unchanged: " + full[2]);
    }

    /**
     * --kv-cache-dtype f16 and bf16 with RTN W3 + IntactKV_[B]: the output is the library's with that cache
     * ({@link PrefixedModel#generate(Tokenizer, int[], int, Sampler, intactkv.model.text.Generator.Stop,
     * intactkv.tensor.ElementDtype, java.util.function.Consumer)}), the closing line names the format, f64 is the
     * default, and any other value is refused by name before any model work.
     */
    @Test
    void aNarrowKvCacheIsTheLibrarys() throws Exception {
        QuantizedModel q = QuantizedModel.quantize(fp, QuantConfig.rtn(3, 128), null, (a, b) -> { });
        PrefixedModel run = new PrefixedModel(q.model(), PrefixSpec.resolve("bos", q.twin(), tok));
        int[] ids = tok.encode(PROMPT, true);
        for (String d : new String[] {"f16", "bf16"}) {
            String[] r = generate("--method", "rtn", "--wbits", "3", "--intactkv", "bos", "--kv-cache-dtype", d);
            assertEquals("0", r[0], r[2]);
            String text = run.generate(tok, ids, Integer.parseInt(N), Sampler.greedy(),
                    intactkv.model.text.Generator.Stop.DEFAULT, intactkv.tensor.ElementDtype.parse(d), s -> { }).text();
            assertEquals(PROMPT + text + System.lineSeparator(), r[1]);
            assertTrue(r[2].contains("intactkv bos; KV cache " + d + "]"), r[2]);
        }
        String[] f64 = generate("--method", "rtn", "--wbits", "3", "--intactkv", "bos", "--kv-cache-dtype", "f64");
        assertEquals(expected(q, "bos", false), f64[1]);
        assertTrue(f64[2].contains("intactkv bos]"), f64[2]);
        String[] bad = generate("--kv-cache-dtype", "fp16");
        assertRefused(bad, "--kv-cache-dtype must be f64, f32, f16 or bf16, got 'fp16'");
        assertTrue(bad[1].isEmpty(), "no work: " + bad[1]);
    }

    /** --kvbits 4 with --chat --intactkv prompt: the system prompt's KV from full precision, the question's quantized. */
    @Test
    void kv4ChatWithThePromptPrefixIsTheLibrarys() throws Exception {
        String[] r = generate("--kvbits", "4", "--chat", "--intactkv", "prompt");
        assertEquals("0", r[0], r[2]);
        QuantizedModel q = QuantizedModel.quantize(fp, QuantConfig.fullPrecision().withRuntime(null, 4), null,
                (a, b) -> { });
        assertEquals(expected(q, "prompt", true), r[1]);
        assertTrue(r[2].contains("kv4, intactkv prompt]"), r[2]);
    }

    /** A calibrated prefix of [BOS] + the system prompt's start continues a --chat prompt; without --chat it is refused. */
    @Test
    void aPromptPrefixFileNeedsChat() throws Exception {
        Path file = dir.resolve("p6.safetensors");
        IntactKvPrefix.generate(new LlamaModel(fp), Arrays.copyOf(IntactKvPrefix.vicunaPromptIds(tok), 6)).save(file);
        String[] r = generate("--intactkv", file.toString());
        assertRefused(r, "--intactkv " + file, "[BOS] + the Vicuna system prompt", "add --chat");
        assertTrue(r[1].isEmpty() && r[3].isEmpty(), "no work: " + r[1] + r[3]);
        r = generate("--method", "rtn", "--wbits", "3", "--intactkv", file.toString(), "--chat");
        assertEquals("0", r[0], r[2]);
    }

    /** Each combination that makes no sense is refused by name, before the model loads or is quantized. */
    @Test
    void badCombinationsAreRefusedByName() throws Exception {
        Path other = dir.resolve("other.safetensors");
        IntactKvPrefix.generate(new LlamaModel(fp), new int[] {1, 300, 301}).save(other);
        String[][] cases = {
            {"--intactkv prompt is the keys and values of [BOS] + the Vicuna system prompt", "add --chat",
                "--method", "rtn", "--intactkv", "prompt"},
            {"--context prompt is ppl's", "use --chat", "--method", "rtn", "--context", "prompt"},
            {"do not begin with the prefix's tokens [1, 300, 301]", "--intactkv " + other, "--method", "rtn",
                "--intactkv", other.toString()},
            {"--wbits/--group need --method", "--method rtn", "--wbits", "3"},
            {"--intactkv must be none, bos, prompt or a prefix file", "nosuch", "--method", "rtn", "--intactkv",
                "nosuch"},
            {"--kvbits must be in 2..16", "1", "--kvbits", "1"},
        };
        for (String[] c : cases) {
            String[] r = generate(Arrays.copyOfRange(c, 2, c.length));
            assertRefused(r, c[0], c[1]);
            assertTrue(r[1].isEmpty() && r[3].isEmpty(), "no work for " + Arrays.toString(c) + ": " + r[1] + r[3]);
        }
        String[] r = BadInputTest.run("generate", "--model", IntactKvFidelityTest.MODEL.toString(), "--chat", "--prompt", ChatTemplate.VICUNA_SYSTEM
                + " USER: hello", "--intactkv", "prompt", "--method", "rtn");
        assertRefused(r, "--prompt begins with the Vicuna system prompt", "which --chat adds itself");
        assertTrue(r[1].isEmpty() && r[3].isEmpty(), "no work: " + r[1] + r[3]);
    }
}
