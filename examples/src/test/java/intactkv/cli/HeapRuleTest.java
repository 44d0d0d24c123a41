package intactkv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The launcher's default heap ({@link HeapRule}): the command's estimate plus 1/32, 512 MiB and a third of the
 * young generation (E/16 within [256 MiB, 1 GiB]), capped at the machine minus max(2 GiB, 1/8), at least 1 GiB; computed here by hand for a LLaMA-2-7B-shaped checkpoint
 * (a header with no data, {@link SparseCheckpoint}) on a 24 GiB machine. {@link LauncherTest} checks that the
 * script passes it to Java.
 */
class HeapRuleTest {
    private static final long GIB = 1L << 30;
    private static final long MIB = 1L << 20;
    private static final long MACHINE = 24 * GIB;

    @TempDir
    static Path tmp;

    @org.junit.jupiter.api.BeforeAll
    static void builtInModelHome() {
        // the repository root, as the launcher passes it (the tests run in the examples module's folder)
        System.setProperty("intactkv.home", Path.of("..").toAbsolutePath().normalize().toString());
    }

    private static Path l7b() throws Exception {
        Path dir = tmp.resolve("l7b");
        return java.nio.file.Files.isDirectory(dir) ? dir : SparseCheckpoint.write(dir, MemoryTermsTest.LLAMA7B);
    }

    /**
     * The 7B shape with the built-in model's vocabulary of 1024, whose tokenizer {@link SparseCheckpoint} copies: the
     * generation commands tokenize their prompts, and refuse a tokenizer that does not fit the model. Its weights are
     * the 7B shape's less 2 x 30976 x 4096 BF16 rows of embedding and head: 12,970,917,888 bytes.
     */
    private static Path l7bSmallVocabulary() throws Exception {
        Path dir = tmp.resolve("l7b-v1024");
        return java.nio.file.Files.isDirectory(dir) ? dir : SparseCheckpoint.write(dir,
                new intactkv.model.LlamaConfig(4096, 11008, 32, 32, 32, 1e-5, 10000, 1024, 4096, false, 1, 2));
    }

    @Test
    void theRuleByHand() {
        // 1 GiB estimate: young 256 MiB (the floor); 1 GiB + 32 MiB + 512 MiB + 256 MiB / 3, rounded up to MiB
        assertEquals(256 * MIB, HeapRule.young(GIB));
        assertEquals(GIB + 32 * MIB + 512 * MIB + 86 * MIB, HeapRule.heap(GIB, MACHINE));
        // small estimates get 1 GiB
        assertEquals(GIB, HeapRule.heap(10 * MIB, MACHINE));
        // capped at 24 GiB - 3 GiB (an eighth is more than 2 GiB); young at most 1 GiB
        assertEquals(21 * GIB, HeapRule.heap(40 * GIB, MACHINE));
        assertEquals(GIB, HeapRule.young(40 * GIB));
        // on an 8 GiB machine the reserve is 2 GiB
        assertEquals(6 * GIB, HeapRule.heap(40 * GIB, 8 * GIB));
    }

    /**
     * ppl --seqlen 512 in full precision on the 7B shape: weights + one scoring window (activations, one layer's keys
     * and values, a block of 256 rows of logits), about 12.9 GiB; the heap 14.0 GiB. Before scoring windows kept no
     * cache and no attention probabilities and made their logits a block at a time, the window also held every
     * layer's keys and values (1 GiB), one layer's probabilities (64 MiB) and all 512 rows of logits:
     * 14,986,280,960 bytes and a heap of 15,549 MiB.
     */
    @Test
    void llama7bFullPrecisionPpl() throws Exception {
        String dir = l7b().toString();
        long weights = 13_478_428_672L;
        long window = 235_929_600L + 33_554_432L + 65_536_000L;
        String[] args = {"ppl", "--model", dir, "--data", "x.txt", "--seqlen", "512"};
        long e = weights + window;
        assertEquals(13_813_448_704L, HeapRule.estimate(args));
        // young: e / 16 = 863,340,544 bytes, 823 MiB; heap: e + e / 32 + 512 MiB + 823 MiB / 3
        // = 13,813,448,704 + 431,670,272 + 536,870,912 + 287,659,349 = 15,069,649,237 bytes, 14,372 MiB rounded up
        assertEquals(823 * MIB, HeapRule.young(e));
        assertEquals(14_372 * MIB, HeapRule.heap(e, MACHINE));
        assertEquals("-Xmx14372m -XX:MaxNewSize=823m", HeapRule.option(args, MACHINE));
    }

    /**
     * The same with --layer-by-layer: one decoder layer (404,815,872 bytes with its norms) and the embeddings, head
     * and final norm (524,320,768) instead of the whole model, and the hidden states of the windows of a pass (3
     * windows of 512 x 4096 doubles for --windows-per-pass 2, 9 for the default 8), beside the same scoring window.
     */
    @Test
    void llama7bLayerByLayerPpl() throws Exception {
        String dir = l7b().toString();
        long window = 235_929_600L + 33_554_432L + 65_536_000L;
        long weights = 524_320_768L + 404_815_872L;
        String[] args = {"ppl", "--model", dir, "--data", "x.txt", "--seqlen", "512", "--layer-by-layer",
            "--windows-per-pass", "2"};
        assertEquals(weights + 3L * 512 * 4096 * 8 + window, HeapRule.estimate(args));
        String[] byDefault = {"ppl", "--model", dir, "--data", "x.txt", "--seqlen", "512", "--layer-by-layer"};
        assertEquals(weights + 9L * 512 * 4096 * 8 + window, HeapRule.estimate(byDefault));
    }

    /**
     * eval --layer-by-layer: the same layer and embeddings, the hidden states of 17 inputs (the default 16 + 1) of
     * 2048 positions (the bound the rule takes without tokenizing: min(2048, max_position_embeddings)), 5 for
     * --inputs-per-pass 4, and the scoring window of 2048 positions with 2048 rows of logits: layer activations
     * 2048 x (6 d + 3 d_ff) doubles (4 x the 512-token 235,929,600), one layer's K and V (4 x 33,554,432), logits 2048
     * x 32000 doubles: about 3.7 GB, where the whole model's eval plans every weight (13.5 GB) besides.
     */
    @Test
    void llama7bLayerByLayerEval() throws Exception {
        String dir = l7b().toString();
        long window = 4 * 235_929_600L + 4 * 33_554_432L + 2048L * 32000 * 8;
        long weights = 524_320_768L + 404_815_872L;
        String[] byDefault = {"eval", "--model", dir, "--builtin", "gloss", "--layer-by-layer"};
        assertEquals(weights + 17L * 2048 * 4096 * 8 + window, HeapRule.estimate(byDefault));
        String[] four = {"eval", "--model", dir, "--builtin", "gloss", "--layer-by-layer", "--inputs-per-pass", "4",
            "--log-samples", "s.jsonl"};
        assertEquals(weights + 5L * 2048 * 4096 * 8 + window, HeapRule.estimate(four));
        String[] whole = {"eval", "--model", dir, "--builtin", "gloss"};
        assertTrue(HeapRule.estimate(whole) > 13_478_428_672L, "the whole model's eval holds every weight");
    }

    /**
     * RTN W3 g128 + IntactKV_[B] with --no-kl: the peak is while quantizing, the full-precision model (released layer
     * by layer) with one layer's codes and one linear's buffers; running, the codes, the embeddings and the window
     * take less. With KL (the default) both models, the buffers or two windows of logits.
     */
    @Test
    void llama7bRtnWithAndWithoutKl() throws Exception {
        String dir = l7b().toString();
        long weights = 13_478_428_672L;
        long codes = 3_242_557_440L; // w3 g128: 3/8 of a byte a code (MemoryTermsTest::quantizedCodes)
        long buffers = 2L * 8 * 11008 * 4096; // the largest linear and its quantized values in double
        long window = 235_929_600L + 33_554_432L + 65_536_000L; // a block of 256 rows of logits
        String[] noKl = {"ppl", "--model", dir, "--data", "x.txt", "--seqlen", "512", "--method", "rtn", "--wbits", "3",
            "--group", "128", "--intactkv", "bos", "--no-kl"};
        long quantizing = weights + codes / 32 + buffers;
        long running = codes + (weights - 2L * 6_476_005_376L) + window;
        assertTrue(quantizing > running, quantizing + " " + running);
        assertEquals(quantizing, HeapRule.estimate(noKl));
        assertEquals(14_861, HeapRule.heap(HeapRule.estimate(noKl), MACHINE) / MIB, "14.5 GiB");
        String[] kl = {"ppl", "--model", dir, "--data", "x.txt", "--seqlen", "512", "--method", "rtn", "--wbits", "3",
            "--group", "128", "--intactkv", "bos"};
        // both models, and the larger of the quantization buffers (while quantizing) and a scoring window with two
        // copies of the logits (while running): the buffers, since a scoring window holds one layer's keys and values
        assertTrue(buffers > window + 65_536_000L);
        assertEquals(weights + codes + buffers, HeapRule.estimate(kl));
        // E + E/32 + 512 MiB + 1 GiB (the young generation's cap) / 3 = 17,442,406,400 + 545,075,200 + 536,870,912
        // + 357,913,941 bytes: 17.6 GiB, under the 21 GiB cap of a 24 GiB machine (18,910 MiB while every layer's
        // keys and values were counted; over the cap when codes took a byte each)
        assertEquals(18_008, HeapRule.heap(HeapRule.estimate(kl), MACHINE) / MIB);
    }

    /**
     * --method gguf --type Q4_K_M with --no-kl: the rule reads --type (without it the plan threw and the rule fell back
     * to 75 % of the machine, under which the 7B-shaped run ran out of heap). The peak is while quantizing: the BF16
     * model, released layer by layer, and one matrix's buffers (the embedding's: 24 bytes an element); running, the
     * blocks (about 4 GB) and the window take less.
     */
    @Test
    void llama7bGgufReadsItsType() throws Exception {
        String[] args = {"ppl", "--model", l7b().toString(), "--data", "x.txt", "--seqlen", "128", "--method", "gguf",
            "--type", "Q4_K_M", "--no-kl"};
        long weights = 13_478_428_672L;
        long buffers = 24L * 32000 * 4096;
        long estimate = HeapRule.estimate(args);
        assertTrue(estimate > weights + buffers && estimate < weights + buffers + (1L << 30), Long.toString(estimate));
        assertTrue(HeapRule.option(args, MACHINE).startsWith("-Xmx"), HeapRule.option(args, MACHINE));
    }

    /**
     * quantize --method gptq with 16 x 512 calibration tokens on the 7B shape (issue 27's <= 20 GB run), reading the
     * checkpoint one decoder layer at a time: the embedding, head and norms as read, every layer's codes (at the last
     * layer, all but one are codes, and that one's are being made), the current layer's BF16 linears, one linear's
     * buffers with GPTQ's Hessian, its damped copy and the factor of its inverse, d_ff^2 each, and two copies of the
     * layer inputs in double. Before the layers were read one at a time, the whole BF16 model was counted instead of
     * the outer tensors and one layer (17,872,759,808 bytes, 16.6 GiB). Before that, the rule threw on the calibration
     * flags (picocli's default of --calib-activations is not applied here) and fell back to 75 % of the machine.
     */
    @Test
    void llama7bGptqQuantizeFollowsTheModel() throws Exception {
        String dir = l7b().toString();
        long weights = 13_478_428_672L;
        long linearsBf16 = 2L * 6_476_005_376L;
        long outer = weights - linearsBf16; // embedding, head (BF16) and the 65 norm vectors (double)
        long layer = linearsBf16 / 32;
        // w4 g128, half a byte a code: q k v o 8,388,608 + 2,097,152 + 16,384; gate, up 22,544,384 + 5,636,096 + 16,384;
        // down 22,544,384 + 5,636,096 + 44,032 (7,290,060,800 when codes took a byte each)
        long codes = 32L * (4 * 10_502_144L + 2 * 28_196_864L + 28_224_512L);
        long buffers = 2L * 8 * 11008 * 4096 + 3L * 8 * 11008 * 11008; // largest linear twice; H, its damped copy, the factor
        long calib = 8L * 16 * 512 * 2 * 4096; // inputs and outputs of the current layer, 16 x 512 tokens
        String[] args = {"quantize", "--model", dir, "--method", "gptq", "--wbits", "4", "--group", "128", "--calib",
            "c.txt", "--calib-docs", "file", "--calib-samples", "16", "--calib-seqlen", "512", "--out", "q"};
        assertEquals(outer + codes + layer + buffers + calib, HeapRule.estimate(args));
        assertEquals(9_149_743_104L, HeapRule.estimate(args), "8.5 GiB (11.5 with a byte a code)");
        // --calib-activations f32 halves the layer inputs
        String[] f32 = java.util.Arrays.copyOf(args, args.length + 2);
        f32[args.length] = "--calib-activations";
        f32[args.length + 1] = "f32";
        assertEquals(outer + codes + layer + buffers + calib / 2, HeapRule.estimate(f32));
        // the heap: E + E/32 + 512 MiB + young/3, young = E/16 = 545 MiB (9.5 GiB; 12.6 GiB with a byte a code, 18.0 GiB
        // before the layers were read one at a time)
        assertEquals("-Xmx9693m -XX:MaxNewSize=545m", HeapRule.option(args, MACHINE));
    }

    /**
     * QuaRot on the 7B shape, read layer by layer and each block rotated as it is read: the embedding and head rotated
     * in double, every layer's codes, the current layer as read (BF16) and rotated (double), GPTQ's buffers, the
     * layer inputs and QuaRot's dense matrices. Before, the whole rotated model in double (8 bytes a parameter, 54 GB)
     * was counted.
     */
    @Test
    void llama7bQuaRotQuantizeRotatesOneLayerAtATime() throws Exception {
        String dir = l7b().toString();
        long linears = 6_476_005_376L;
        long rotatedOuter = 8L * 2 * 32000 * 4096;
        String[] args = {"quantize", "--model", dir, "--method", "quarot", "--calib", "c.txt", "--calib-docs", "file",
            "--calib-samples", "16", "--calib-seqlen", "512", "--out", "q"};
        long codes = 0; // w4 per channel (QuaRot's GPTQ, group -1): half a byte a code, scale and zero a row, g_idx a column
        for (long[] rc : new long[][] {{4096, 4096}, {4096, 4096}, {4096, 4096}, {4096, 4096}, {11008, 4096},
            {11008, 4096}, {4096, 11008}}) {
            codes += 32 * (rc[0] * rc[1] / 2 + 16 * rc[0] + 4 * rc[1]);
        }
        long layerBf16 = 2L * linears / 32;
        long layerRotated = 8L * linears / 32;
        long buffers = 2L * 8 * 11008 * 4096 + 3L * 8 * 11008 * 11008;
        long calib = 8L * 16 * 512 * 2 * 4096;
        // the rotation's dense matrices (Q, Q^T, M_ff^T, block-diagonal M_dh, the output transform) and the
        // calibration forward's online transforms (M_ff^T, M_h, M_dh^T), in double: counted since session 19
        long matrices = 8L * (3L * 4096 * 4096 + 11008L * 11008 + 4096L * 4096)
                + 8L * (11008L * 11008 + 32 * 32 + 128 * 128);
        assertEquals(rotatedOuter + codes + layerBf16 + layerRotated + buffers + calib + matrices,
                HeapRule.estimate(args));
        assertEquals(14_027_563_008L, HeapRule.estimate(args), "13.1 GiB (10.8 before the matrices were counted)");
    }

    /**
     * dump with RTN + IntactKV_[B] releases the full-precision model once the prefix is taken (it has no KL): the
     * peak is the larger of quantizing (weights, one layer's codes, one linear's buffers) and running a window of
     * 2048 (the rule's length for dump) with the codes, the embeddings, head and norms.
     */
    @Test
    void llama7bDumpWithRtnReleases() throws Exception {
        String dir = l7b().toString();
        long weights = 13_478_428_672L;
        long codes = 3_242_557_440L; // w3 g128
        long linearsBf16 = 2L * 6_476_005_376L;
        long window = 8L * 32 * 2048 * 2048 + 8L * 2048 * (6 * 4096 + 3 * 11008) + 8L * 2 * 32 * 2048 * 4096
                + 8L * 2048 * 32000;
        String[] args = {"dump", "--model", dir, "--tokens", "1,5,9", "--method", "rtn", "--wbits", "3", "--group",
            "128", "--intactkv", "bos", "--out", "d.safetensors"};
        long quantizing = weights + codes / 32 + 2L * 8 * 11008 * 4096;
        long running = codes + (weights - linearsBf16) + window;
        assertEquals(Math.max(quantizing, running), HeapRule.estimate(args));
        // full precision: the weights and the window only
        String[] fp = {"dump", "--model", dir, "--tokens", "1,5,9", "--out", "d.safetensors"};
        assertEquals(weights + window, HeapRule.estimate(fp));
    }

    /**
     * generate in full precision on the 7B shape: the weights and a generation of the prompt's P tokens (the tokenizer
     * beside the checkpoint counts them, as the command does) up to --max-tokens 100: a KV cache of P + 99 positions
     * (2 x 32 layers x 32 heads x 128 doubles, 2 MiB a position) and the prompt's layer activations (P x (6 d + 3
     * d_ff) doubles); no logits but the last position's. Without --max-tokens: 64, the command's default when the
     * model has no generation_config.json. Before, the rule planned a window of 2048 positions with every attention
     * probability (20.8 GiB of heap for LLaMA-2-7B's "Hello there", which needs 12.6).
     */
    @Test
    void llama7bGenerate() throws Exception {
        Path dir = l7bSmallVocabulary();
        String prompt = "a small domesticated animal";
        long p = intactkv.model.text.Tokenizer.load(dir.resolve("tokenizer.json")).encode(prompt, true).length;
        long weights = 12_970_917_888L;
        long perPosition = 8L * 2 * 32 * 32 * 128;
        long prompted = p * 8 * (6 * 4096 + 3 * 11008);
        String[] args = {"generate", "--model", dir.toString(), "--prompt", prompt, "--max-tokens", "100"};
        assertEquals(weights + (p + 99) * perPosition + prompted, HeapRule.estimate(args));
        String[] byDefault = {"generate", "--model", dir.toString(), "--prompt", prompt};
        assertEquals(weights + (p + 63) * perPosition + prompted, HeapRule.estimate(byDefault));
    }

    /**
     * mtbench on the 7B shape: the weights and its longest turn, the second turn of a two-turn question, whose prompt
     * is the conversation with an empty first answer (P tokens, as the command tokenizes it) plus one answer of
     * --max-new-tokens 200, and its own answer of 200 more: a cache of P + 200 + 199 positions.
     */
    @Test
    void llama7bMtBenchPlansItsLongestTurn() throws Exception {
        Path dir = l7bSmallVocabulary();
        Path questions = java.nio.file.Files.writeString(tmp.resolve("q.jsonl"), MtBenchCommandTest.Q2 + "\n");
        var q = MtBenchQuestions.read(questions).get(0);
        long p = intactkv.model.text.Tokenizer.load(dir.resolve("tokenizer.json")).encode(
                intactkv.model.text.ChatTemplate.vicunaConversation(q.turns(), java.util.List.of("")), true).length;
        long weights = 12_970_917_888L;
        long prompt = p + 200;
        long expected = weights + (prompt + 199) * 8L * 2 * 32 * 32 * 128 + prompt * 8 * (6 * 4096 + 3 * 11008);
        String[] args = {"mtbench", "--model", dir.toString(), "--questions", questions.toString(), "--model-id", "m",
            "--max-new-tokens", "200", "--out", tmp.resolve("a.jsonl").toString()};
        assertEquals(expected, HeapRule.estimate(args));
        assertTrue(!java.nio.file.Files.exists(tmp.resolve("a.jsonl")), "the rule writes nothing");
        // --kv-cache-dtype f32 and f16: the cache at 4 and 2 bytes an element, the rest as before
        String[] f32 = java.util.Arrays.copyOf(args, args.length + 2);
        f32[args.length] = "--kv-cache-dtype";
        f32[args.length + 1] = "f32";
        assertEquals(expected - (prompt + 199) * 4L * 2 * 32 * 32 * 128, HeapRule.estimate(f32));
        f32[args.length + 1] = "f16";
        assertEquals(expected - (prompt + 199) * 6L * 2 * 32 * 32 * 128, HeapRule.estimate(f32));
    }

    @Test
    void whereTheRuleDoesNotApplyTheOldDefault() throws Exception {
        assertEquals(HeapRule.FALLBACK, HeapRule.option(new String[] {"ppl", "--model", "default"}, MACHINE));
        assertEquals(HeapRule.FALLBACK, HeapRule.option(new String[] {"train", "--out", "x"}, MACHINE));
        assertEquals(HeapRule.FALLBACK, HeapRule.option(new String[] {"ppl", "--model", l7b().toString()}, -1));
        assertEquals(HeapRule.FALLBACK, HeapRule.option(new String[] {}, MACHINE));
    }

    @Test
    void flagsInBothSpellings() {
        var f = HeapRule.flags(new String[] {"ppl", "--model=/m", "--seqlen", "512", "--no-kl", "--json", "--method", "rtn"});
        assertEquals("/m", f.get("--model"));
        assertEquals("512", f.get("--seqlen"));
        assertEquals("", f.get("--no-kl"));
        assertEquals("rtn", f.get("--method"));
    }
}
