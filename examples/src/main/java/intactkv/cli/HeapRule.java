package intactkv.cli;

import intactkv.model.LlamaConfig;
import intactkv.prefix.PrefixSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The launcher's default heap for a command on a checkpoint, from the model's size instead of a share of the
 * machine (issue 27): the {@code ./intactkv} script runs {@link #main} before the command when {@code --model}
 * names a directory with a config.json and {@code INTACTKV_JAVA_OPTS} sets no {@code -Xmx}, and passes what it
 * prints to Java. The rule, with E the command's estimate:
 * <pre>
 *   usable = E + E / 32 + 512 MiB                       what the command may use (Runtime.maxMemory)
 *   young  = min(1 GiB, max(256 MiB, E / 16))           -XX:MaxNewSize: the collector's nursery
 *   heap   = usable + young / 3                         -Xmx: the parallel collector keeps one survivor
 *                                                       space (at most young / 3) out of maxMemory
 *   heap   = min(heap, machine - max(2 GiB, machine / 8)), at least 1 GiB
 * </pre>
 * E is the command's {@link MemoryPlan} total (the weights as the headers of --model and --quantized say they
 * are held, the quantized copy, its twin and the quantization buffers as the flags ask, and the buffers of one
 * window, the cache of a generation ({@link #generationEstimate}: made by the command itself), or the calibration
 * activations of {@code quantize}: the terms the command itself checks before loading). The margin (1/32 of E plus
 * 512 MiB) is for what the terms leave out (the collector's room, the
 * tokens, small arrays). The young generation is bounded so that the resident memory stays near the live set
 * instead of reaching the heap limit: the parallel collector's default nursery is a third of the heap, and
 * it touches all of it, so a 15 GB model would reach 20 GB of RSS. The reserve leaves the operating system and
 * other programs 2 GiB or an eighth of the memory, whichever is more. When E passes the cap, the heap is the
 * cap, and the command itself refuses with the estimate, the heap and {@code INTACTKV_JAVA_OPTS}. Anything this
 * rule cannot read (a missing file, a flag it does not know the value of) gives the old default,
 * {@code -XX:MaxRAMPercentage=75}, and the command reports the problem itself.
 */
final class HeapRule {
    /** What the launcher used before this rule, and still uses when the rule cannot be applied. */
    static final String FALLBACK = "-XX:MaxRAMPercentage=75";
    static final long MIB = 1L << 20;
    static final long GIB = 1L << 30;

    /** Positions allowed for a prefix or context other than [BOS] (the Vicuna system prompt is about 40 tokens). */
    static final int PROMPT_ALLOWANCE = 64;

    private HeapRule() {
    }

    /** Prints the heap option for the command line {@code args} (the command's own arguments), one line. */
    public static void main(String[] args) {
        String opt;
        try {
            opt = option(args, machineBytes());
        } catch (RuntimeException | IOException e) {
            opt = FALLBACK;
        }
        System.out.println(opt);
    }

    /**
     * The heap options for {@code args} on a machine of {@code machine} bytes: {@code -Xmx<MiB>m
     * -XX:MaxNewSize=<MiB>m}, or the fallback.
     */
    static String option(String[] args, long machine) throws IOException {
        long estimate = estimate(args);
        if (estimate < 0 || machine <= 0) {
            return FALLBACK;
        }
        return "-Xmx" + (heap(estimate, machine) / MIB) + "m -XX:MaxNewSize=" + (young(estimate) / MIB) + "m";
    }

    /** The young generation's limit: E / 16 within [256 MiB, 1 GiB], whole MiB. */
    static long young(long estimate) {
        return Math.min(GIB, Math.max(256 * MIB, estimate / 16)) / MIB * MIB;
    }

    /** The heap of the class comment, in bytes, rounded up to whole MiB. */
    static long heap(long estimate, long machine) {
        long h = Math.max(GIB, Math.min(wanted(estimate), cap(machine)));
        return (h + MIB - 1) / MIB * MIB;
    }

    /** The heap the rule asks for before the cap: E + E/32 + 512 MiB + a third of the young generation. */
    static long wanted(long estimate) {
        long usable = MemoryEstimate.plus(MemoryEstimate.plus(estimate, estimate / 32), 512 * MIB);
        return MemoryEstimate.plus(usable, young(estimate) / 3);
    }

    /** The most heap the rule gives on a machine of {@code machine} bytes: all but max(2 GiB, 1/8) of it. */
    static long cap(long machine) {
        return machine - Math.max(2 * GIB, machine / 8);
    }

    /** The machine's memory from /proc/meminfo (MemTotal), or -1 where there is none (not Linux). */
    static long machineBytes() throws IOException {
        Path info = Path.of("/proc/meminfo");
        if (!Files.isReadable(info)) {
            return -1;
        }
        for (String line : Files.readAllLines(info)) {
            if (line.startsWith("MemTotal:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        return -1;
    }

    /**
     * The memory plan total of the command {@code args[0]} with its flags, or -1 when this rule does not
     * apply (no --model directory, the built-in model, a command without a plan here).
     */
    static long estimate(String[] args) throws IOException {
        if (args.length == 0) {
            return -1;
        }
        Map<String, String> f = flags(args);
        String model = f.get("--model");
        if (model == null || model.equals("default")) {
            return -1;
        }
        QuantOptions q = new QuantOptions();
        q.model = Path.of(model);
        q.quantized = f.containsKey("--quantized") ? Path.of(f.get("--quantized")) : null;
        q.method = f.get("--method");
        // --method gguf's --type: without it the plan threw ("--method gguf needs --type") and the rule fell back to
        // 75 % of the machine, under which a 7B-shaped --method gguf ppl planned at 15.6 GB ran out of heap
        q.ggufType = f.get("--type");
        q.wbits = integer(f, "--wbits");
        q.group = integer(f, "--group");
        q.abits = integer(f, "--abits");
        q.kvbits = integer(f, "--kvbits");
        q.calibSeqlen = integer(f, "--calib-seqlen");
        q.nsamples = f.containsKey("--calib-samples") ? Integer.parseInt(f.get("--calib-samples")) : 128;
        // picocli's defaults are not applied here: without this the calibration methods' quantize terms (which ask how
        // the activations are held) threw and the rule fell back to 75 % of the machine
        q.calibActivations = f.getOrDefault("--calib-activations", "f64");
        LlamaConfig c = MemoryEstimate.config(q.model);
        int positions = c.maxPositionEmbeddings();
        String command = args[0];
        return switch (command) {
            case "ppl" -> {
                int t = f.containsKey("--seqlen") ? Integer.parseInt(f.get("--seqlen"))
                        : ModelLength.defaultWindow(ModelDir.check(q.model));
                boolean kl = q.any() && !f.containsKey("--no-kl");
                if (f.containsKey("--layer-by-layer")) {
                    int perPass = f.containsKey("--windows-per-pass") ? Integer.parseInt(f.get("--windows-per-pass"))
                            : PplCommand.WINDOWS_PER_PASS;
                    yield q.layerwiseTerms(t + prefixAllowance(f), perPass, kl ? 2 : 1,
                            PrefixSpec.generated(f.getOrDefault("--intactkv", "none"))).total();
                }
                boolean release = !kl && q.releasesFullPrecision();
                yield q.peakTerms(!release, w -> MemoryEstimate.pplTerms(w, c, t + prefixAllowance(f), kl ? 2 : 1))
                        .total();
            }
            case "generate", "mtbench", "gen-fidelity" -> generationEstimate(args);
            case "eval", "dump", "analyze" -> {
                long t = Math.min(positions, f.containsKey("--seqlen") ? Long.parseLong(f.get("--seqlen")) : 2048);
                if (command.equals("eval") && f.containsKey("--layer-by-layer")) {
                    // the inputs are not tokenized here: each bounded by t positions, its logits rows by t
                    int perPass = f.containsKey("--inputs-per-pass") ? Integer.parseInt(f.get("--inputs-per-pass"))
                            : EvalCommand.INPUTS_PER_PASS;
                    yield q.layerwiseTerms(t + prefixAllowance(f), perPass, 1,
                            PrefixSpec.generated(f.getOrDefault("--intactkv", "none")), t, "inputs").total();
                }
                boolean release = !command.equals("analyze") && q.releasesFullPrecision();
                yield q.peakTerms(!release, w -> command.equals("eval") ? MemoryEstimate.scoringTerms(w, c, t, 0, t, 1)
                        : MemoryEstimate.windowTerms(w, c, t, 0, 1)).total();
            }
            case "calibrate" -> {
                long t = Math.min(positions, f.containsKey("--seqlen") ? Long.parseLong(f.get("--seqlen")) : 1024);
                yield MemoryEstimate.plus(q.peakTerms(true, w -> w).total(),
                        MemoryEstimate.forwardForBackward(c, t, PROMPT_ALLOWANCE));
            }
            case "quantize" -> {
                if (q.method == null) {
                    yield -1;
                }
                intactkv.quant.Method m = intactkv.quant.Method.parse(q.method);
                long t = q.calibSeqlen != null ? q.calibSeqlen
                        : m.needsCalibration() ? Math.min(positions, intactkv.quant.CalibrationLoader.of(m).officialSeqlen())
                        : 0;
                yield q.quantizeTerms(q.nsamples, t).total();
            }
            default -> -1;
        };
    }

    /**
     * The plan total of a generation command ({@code generate}, {@code mtbench}, {@code gen-fidelity}) exactly as the
     * command checks it before loading: its length is the prompt's tokens (or the longest question's, the longest
     * prompt's) and the new-token limit, which come from the tokenizer, generation_config.json and the questions or
     * prompt files, so {@code args} are parsed by picocli as {@link Main} parses them and the command itself prepares
     * the run (no weight is read) and makes its plan.
     */
    static long generationEstimate(String[] args) throws IOException {
        Object command = Main.commandLine().parseArgs(args).subcommand().commandSpec().userObject();
        if (command instanceof GenerateCommand g) {
            return g.plan(g.prepare()).total();
        }
        if (command instanceof MtBenchCommand m) {
            return m.plan(m.prepare()).total();
        }
        if (command instanceof GenFidelityCommand f) {
            return f.plan(f.prepare()).total();
        }
        return -1;
    }

    /** {@code --flag value} and {@code --flag=value} pairs; a flag without a value (--no-kl) maps to "". */
    static Map<String, String> flags(String[] args) {
        Map<String, String> out = new HashMap<>();
        List<String> bare = List.of("--no-kl", "--kl", "--json", "--chat", "--calib-bos-first", "--layer-by-layer");
        for (int i = 1; i < args.length; i++) {
            String a = args[i];
            if (!a.startsWith("--")) {
                continue;
            }
            int eq = a.indexOf('=');
            if (eq > 0) {
                out.put(a.substring(0, eq), a.substring(eq + 1));
            } else if (bare.contains(a) || i + 1 >= args.length) {
                out.put(a, "");
            } else {
                out.put(a, args[++i]);
            }
        }
        return out;
    }

    /** Positions before each window: none for no prefix or IntactKV_[B] (it replaces [BOS]), else {@link #PROMPT_ALLOWANCE}. */
    private static long prefixAllowance(Map<String, String> f) {
        String which = f.getOrDefault("--intactkv", "none");
        String context = f.getOrDefault("--context", "none");
        return (which.equals("none") || which.equals("bos")) && context.equals("none") ? 0 : PROMPT_ALLOWANCE;
    }

    private static Integer integer(Map<String, String> f, String name) {
        return f.containsKey(name) ? Integer.valueOf(f.get(name).trim().toLowerCase(Locale.ROOT)) : null;
    }
}
