package intactkv.cli;

import intactkv.model.LlamaConfig;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Which commands fit on which workstation, for the published shapes of LLaMA-2-7B, 13B, 70B, LLaMA-3-8B and TinyLlama
 * (issue 27, item 7): each command's memory plan ({@link HeapRule#estimate}, the same code the command checks before
 * loading) evaluated on a {@link SparseCheckpoint} of the shape (the real header in BF16, no data), and the heap the
 * launcher gives it on a machine of 24, 64 and 128 GiB ({@link HeapRule#heap}: the machine minus max(2 GiB, 1/8)).
 * A command fits a machine when its plan plus the launcher's margins ({@code usable = E + E/32 + 512 MiB} and a third of
 * the young generation) is within that cap, i.e. when {@link HeapRule#heap} is not capped. Prints a Markdown table.
 *
 * <pre>java --add-modules jdk.incubator.vector -Dintactkv.home=. -cp examples/target/intactkv.jar intactkv.cli.ScaleTable</pre>
 */
public final class ScaleTable {
    private static final long GIB = 1L << 30;
    /** The machines of the issue, in GiB. */
    static final long[] MACHINES = {24, 64, 128};

    /** A published shape. */
    record Shape(String name, LlamaConfig config) {
    }

    /** The shapes, from each model's config.json on the Hugging Face Hub (BF16 weights). */
    static final List<Shape> SHAPES = List.of(
            new Shape("TinyLlama-1.1B", new LlamaConfig(2048, 5632, 32, 4, 22, 1e-5, 10000, 32000, 2048, false, 1, 2)),
            new Shape("LLaMA-2-7B", new LlamaConfig(4096, 11008, 32, 32, 32, 1e-5, 10000, 32000, 4096, false, 1, 2)),
            new Shape("LLaMA-3-8B", new LlamaConfig(4096, 14336, 32, 8, 32, 1e-5, 500000, 128256, 8192, false, 1, 2)),
            new Shape("LLaMA-2-13B", new LlamaConfig(5120, 13824, 40, 40, 40, 1e-5, 10000, 32000, 4096, false, 1, 2)),
            new Shape("LLaMA-2-70B", new LlamaConfig(8192, 28672, 64, 8, 80, 1e-5, 10000, 32000, 4096, false, 1, 2)));

    /** The commands, with MODEL in place of the checkpoint directory. */
    static final List<String> COMMANDS = List.of(
            "ppl --model MODEL --data F --seqlen 2048",
            "ppl --model MODEL --data F --seqlen 2048 --method rtn --wbits 3 --group 128 --intactkv bos --no-kl",
            "ppl --model MODEL --data F --seqlen 2048 --method rtn --wbits 3 --group 128 --intactkv bos",
            "ppl --model MODEL --data F --seqlen 2048 --layer-by-layer",
            "ppl --model MODEL --data F --seqlen 2048 --method rtn --wbits 3 --group 128 --intactkv bos"
                    + " --layer-by-layer",
            "quantize --model MODEL --method rtn --wbits 3 --group 128 --out Q",
            "quantize --model MODEL --method gptq --wbits 3 --group 128 --calib C --calib-samples 16 --calib-seqlen 512 --out Q",
            "quantize --model MODEL --method gptq --wbits 3 --group 128 --calib C --calib-samples 128 --calib-seqlen 2048 --out Q",
            "quantize --model MODEL --method gptq --wbits 3 --group 128 --calib C --calib-samples 128 --calib-seqlen 2048"
                    + " --calib-activations f32 --out Q",
            "quantize --model MODEL --method awq --wbits 3 --group 128 --calib C --calib-samples 128 --out Q");

    private ScaleTable() {
    }

    /** One row: the plan in bytes of {@code command} on {@code dir}. */
    static long estimate(String command, Path dir) throws IOException {
        return HeapRule.estimate(command.replace("MODEL", dir.toString()).split(" "));
    }

    /** Whether a plan of {@code estimate} bytes fits the launcher's heap on a machine of {@code machineGib} GiB. */
    static boolean fits(long estimate, long machineGib) {
        return HeapRule.wanted(estimate) <= HeapRule.cap(machineGib * GIB);
    }

    /** Prints the table for {@link #SHAPES} x {@link #COMMANDS}, writing the sparse checkpoints under {@code tmp}. */
    static void print(PrintStream out, Path tmp) throws IOException {
        out.println("| model | command | plan (GiB) | " + String.join(" | ", machineHeaders()) + " |");
        out.println("|---|---|---|" + "---|".repeat(MACHINES.length));
        for (Shape s : SHAPES) {
            Path dir = SparseCheckpoint.write(tmp.resolve(s.name()), s.config());
            for (String command : COMMANDS) {
                long e = estimate(command, dir);
                StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "| %s | `%s` | %.1f |", s.name(),
                        command.replace(" --model MODEL", "").replace(" --data F", "").replace(" --calib C", "")
                                .replace(" --out Q", ""), e / (double) GIB));
                for (long m : MACHINES) {
                    row.append(fits(e, m) ? " fits |" : " no |");
                }
                out.println(row);
            }
        }
    }

    private static List<String> machineHeaders() {
        List<String> h = new ArrayList<>();
        for (long m : MACHINES) {
            h.add(m + " GiB");
        }
        return h;
    }

    /** Prints the table; the sparse checkpoints go to a temporary folder that is removed afterwards. */
    public static void main(String[] args) throws IOException {
        Path tmp = Files.createTempDirectory("intactkv-scale");
        try {
            print(System.out, tmp);
        } finally {
            try (var files = Files.walk(tmp)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }
}
