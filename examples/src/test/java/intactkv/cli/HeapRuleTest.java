package intactkv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The launcher's default heap ({@link HeapRule}): the command's estimate plus 1/32 and 512 MiB, capped at the
 * machine minus max(2 GiB, 1/8), at least 1 GiB; computed here by hand for a LLaMA-2-7B-shaped checkpoint
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

    @Test
    void theRuleByHand() {
        // 1 GiB estimate: 1 GiB + 32 MiB + 512 MiB
        assertEquals(GIB + 32 * MIB + 512 * MIB, HeapRule.heap(GIB, MACHINE));
        // small estimates get 1 GiB
        assertEquals(GIB, HeapRule.heap(10 * MIB, MACHINE));
        // capped at 24 GiB - 3 GiB (an eighth is more than 2 GiB)
        assertEquals(21 * GIB, HeapRule.heap(40 * GIB, MACHINE));
        // on an 8 GiB machine the reserve is 2 GiB
        assertEquals(6 * GIB, HeapRule.heap(40 * GIB, 8 * GIB));
    }

    /** ppl --seqlen 512 in full precision on the 7B shape: weights + one window, about 14 GiB; the heap 15 GiB. */
    @Test
    void llama7bFullPrecisionPpl() throws Exception {
        String dir = l7b().toString();
        long weights = 13_478_428_672L;
        long window = 67_108_864L + 235_929_600L + 1_073_741_824L + 131_072_000L;
        String[] args = {"ppl", "--model", dir, "--data", "x.txt", "--seqlen", "512"};
        assertEquals(weights + window, HeapRule.estimate(args));
        long heap = HeapRule.heap(weights + window, MACHINE);
        assertEquals(weights + window + (weights + window) / 32 + 512 * MIB, heap, 1 * MIB);
        assertEquals("-Xmx" + heap / MIB + "m", HeapRule.option(args, MACHINE));
        // 14,986,280,960 + 468,321,280 + 536,870,912 = 15,991,473,152 bytes, rounded up to MiB
        assertEquals(15_251, heap / MIB, "14.9 GiB: under 16 GiB of RSS with the JVM's own memory");
    }

    /**
     * RTN W3 g128 + IntactKV_[B] with --no-kl: the full-precision model is released layer by layer, so one layer's
     * codes come beside it; with KL (the default) both models and two windows of logits.
     */
    @Test
    void llama7bRtnWithAndWithoutKl() throws Exception {
        String dir = l7b().toString();
        long weights = 13_478_428_672L;
        long window = 67_108_864L + 235_929_600L + 1_073_741_824L + 131_072_000L;
        String[] noKl = {"ppl", "--model", dir, "--data", "x.txt", "--seqlen", "512", "--method", "rtn", "--wbits", "3",
            "--group", "128", "--intactkv", "bos", "--no-kl"};
        assertEquals(weights + 7_290_060_800L / 32 + window, HeapRule.estimate(noKl));
        // 15,214,095,360 + 475,440,480 + 536,870,912 = 16,226,406,752 bytes, rounded up to MiB
        assertEquals(15_475, HeapRule.heap(HeapRule.estimate(noKl), MACHINE) / MIB);
        String[] kl = {"ppl", "--model", dir, "--data", "x.txt", "--seqlen", "512", "--method", "rtn", "--wbits", "3",
            "--group", "128", "--intactkv", "bos"};
        assertEquals(weights + 7_290_060_800L + window + 131_072_000L, HeapRule.estimate(kl));
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
