package intactkv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ScaleTable}: the plans it prints are the commands' own ({@link HeapRule#estimate}), checked by hand for
 * LLaMA-2-7B's ppl; the thresholds fall where the plan plus the launcher's margins meets the machine's cap; one row per
 * shape and command.
 */
class ScaleTableTest {
    private static final long GIB = 1L << 30;

    @TempDir
    static Path tmp;

    @BeforeAll
    static void builtInModelHome() {
        System.setProperty("intactkv.home", Path.of("..").toAbsolutePath().normalize().toString());
    }

    @Test
    void llama2_7bPplIsTheWeightsAndOneWindowOf2048() throws Exception {
        Path dir = SparseCheckpoint.write(tmp.resolve("l7b"), ScaleTable.SHAPES.get(1).config());
        long weights = 13_478_428_672L;
        // a scoring window: activations, one layer's keys and values, a block of 256 rows of logits (no attention
        // probabilities)
        long window = 8L * 2048 * (6 * 4096 + 3 * 11008) + 8L * 2 * 2048 * 4096 + 8L * 256 * 32000;
        long e = ScaleTable.estimate(ScaleTable.COMMANDS.get(0), dir);
        assertEquals(weights + window, e);
        assertTrue(ScaleTable.fits(e, 24), "16.2 GB with margins against the 21 GiB cap of a 24 GiB machine");
    }

    @Test
    void thresholdsAreTheLaunchersCap() {
        // 24 GiB: the cap is 21 GiB; the wanted heap is E + E/32 + 512 MiB + young/3 (young 1 GiB above 16 GiB)
        long justFits = (long) ((21 * GIB - 512L * (1 << 20) - GIB / 3) / (1 + 1 / 32.0)) - (1 << 20);
        assertTrue(ScaleTable.fits(justFits, 24));
        assertFalse(ScaleTable.fits(justFits + 64L * (1 << 20), 24));
        // 128 GiB: the cap is 112 GiB
        assertTrue(ScaleTable.fits(100 * GIB, 128));
        assertFalse(ScaleTable.fits(110 * GIB, 128));
    }

    @Test
    void printsOneRowPerShapeAndCommand() throws Exception {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        ScaleTable.print(new PrintStream(b, true, StandardCharsets.UTF_8), tmp.resolve("all"));
        String[] lines = b.toString(StandardCharsets.UTF_8).split("\n");
        assertEquals(2 + ScaleTable.SHAPES.size() * ScaleTable.COMMANDS.size(), lines.length);
        assertTrue(lines[2].startsWith("| TinyLlama-1.1B | `ppl --seqlen 2048` |"), lines[2]);
        // the 70B model in BF16 (138 GB) fits none of the three machines in full precision
        String fp70 = lines[2 + 4 * ScaleTable.COMMANDS.size()];
        assertTrue(fp70.startsWith("| LLaMA-2-70B | `ppl --seqlen 2048` |") && fp70.endsWith("| no | no | no |"), fp70);
        // one decoder layer at a time it fits the smallest, with RTN W3 + IntactKV_[B] and KL too
        String layered = lines[2 + 4 * ScaleTable.COMMANDS.size() + 3];
        assertTrue(layered.startsWith("| LLaMA-2-70B | `ppl --seqlen 2048 --layer-by-layer` |")
                && layered.endsWith("| fits | fits | fits |"), layered);
        String rtnLayered = lines[2 + 4 * ScaleTable.COMMANDS.size() + 4];
        assertTrue(rtnLayered.startsWith("| LLaMA-2-70B | `ppl --seqlen 2048 --method rtn --wbits 3 --group 128"
                + " --intactkv bos --layer-by-layer` |") && rtnLayered.endsWith("| fits | fits | fits |"), rtnLayered);
    }
}
