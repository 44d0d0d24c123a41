package intactkv.bench;

import intactkv.autograd.GradMode;
import intactkv.model.KvCache;
import intactkv.model.LlamaConfig;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Prefill and decode throughput of a checkpoint as the CLI loads it (matrices kept in the file's dtype,
 * {@link LlamaWeights#load}), for the BF16 checkpoints of {@code tools/scale/random_checkpoint.py}; and
 * what decoding reads: every linear weight and the LM head once per token, so {@code bytes/token x
 * tokens/s} is the bandwidth decoding uses, which {@link MemoryBandwidth} bounds.
 *
 * <pre>
 *   java --add-modules jdk.incubator.vector -Xmx6g -XX:+UseParallelGC -cp benchmarks/target/benchmarks.jar \
 *       intactkv.bench.DecodeThroughput /tmp/e-tinyllama 256 16
 *   java --add-modules jdk.incubator.vector -Xmx16g -XX:MaxNewSize=1g -XX:+UseParallelGC \
 *       -cp benchmarks/target/benchmarks.jar intactkv.bench.DecodeThroughput /tmp/llama2-7b 128 2
 * </pre>
 * Run it with the collector {@code ./intactkv} runs with ({@code -XX:+UseParallelGC}): under the JVM's default G1
 * this build decoded 25-30 % slower (7.7-8.2 against 11.0-11.1 tokens/s, TinyLlama-shaped, 2026-12-07), and
 * prefilled 512 tokens at 24 against 32 tokens/s, which is not what a user of the launcher gets.
 * A 7B-shaped checkpoint needs the young generation capped (as the launcher caps it): its 13.5 GB of weights live
 * in the old generation, which the parallel collector otherwise limits to two thirds of the heap.
 * Arguments: checkpoint directory (or a GGUF file, e.g. of {@code tools/scale/checkpoint_to_gguf.py}), prompt
 * length T (prefill), decode steps. A first round of a 16-token
 * prompt and 2 steps warms up the JIT. Prints one JSON line: prefill and decode tokens/s by the wall
 * clock, the decode's CPU seconds per token of the calling thread, and the bytes of weights read per
 * decoded token.
 */
public final class DecodeThroughput {
    private DecodeThroughput() {
    }

    /** Bytes of the matrices one decoded token reads: every decoder linear and the LM head (one embedding row aside). */
    static long bytesPerToken(LlamaConfig c, int elementBytes) {
        long d = c.hiddenSize();
        long kv = (long) c.numKeyValueHeads() * c.headDim();
        long layer = d * d * 2 + d * kv * 2 + 3L * d * c.intermediateSize();
        return elementBytes * (layer * c.numHiddenLayers() + (long) c.vocabSize() * d);
    }

    /**
     * The form {@code t}'s elements are held in ({@code "F16"}, {@code "Bf16"}, {@code "F32"}, {@code "GgmlBlock"};
     * {@code "F64"} for doubles), by name through reflection: decode_gemm_quiet.sh compiles this file against the
     * issue's baseline too, which has no weight storages.
     */
    private static String heldAs(Object t) {
        try {
            Object s = t.getClass().getMethod("storage").invoke(t);
            return s == null ? "F64" : s.getClass().getSimpleName().replace("Storage", "");
        } catch (ReflectiveOperationException e) {
            return "F64";
        }
    }

    /**
     * The bytes of the matrices one decoded token reads, as held (every decoder linear and the LM head): for a GGUF
     * file, whose matrices may be ggml blocks of no whole bytes an element; through reflection, as {@link #heldAs}.
     */
    private static long heldBytesPerToken(LlamaWeights w) {
        try {
            long total = bytesOf(w.lmHead().data());
            for (Object b : (java.util.List<?>) w.getClass().getMethod("blocks").invoke(w)) {
                for (String linear : new String[] {"q", "k", "v", "o", "gate", "up", "down"}) {
                    Object v = b.getClass().getMethod(linear).invoke(b);
                    total += bytesOf(v.getClass().getMethod("data").invoke(v));
                }
            }
            return total;
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("this build's weights have no storages to count", e);
        }
    }

    private static long bytesOf(Object t) throws ReflectiveOperationException {
        Object s = t.getClass().getMethod("storage").invoke(t);
        return (Long) s.getClass().getMethod("bytes").invoke(s);
    }

    public static void main(String[] args) throws java.io.IOException {
        Path dir = Path.of(args[0]);
        int t = Integer.parseInt(args[1]);
        int steps = Integer.parseInt(args[2]);
        LlamaWeights w = LlamaWeights.load(dir, false);
        LlamaConfig c = w.config();
        // a GGUF file (--model FILE.gguf) has no config.json: its dtype is what its LM head is held in
        String dtype = !java.nio.file.Files.isDirectory(dir) ? "gguf, held as " + heldAs(w.lmHead().data())
                : intactkv.model.io.JsonFile.read(dir.resolve("config.json")).string("torch_dtype", "float64");
        int elementBytes = switch (dtype) {
            case "bfloat16", "float16" -> 2;
            case "float32" -> 4;
            default -> 8;
        };
        LlamaModel m = new LlamaModel(w);
        java.util.Random rng = new java.util.Random(2);
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        double prefill = 0;
        double decode = 0;
        double decodeCpu = 0;
        try (GradMode.Scope s = GradMode.noGrad()) {
            for (int round = 0; round < 2; round++) { // round 0 warms up the JIT
                int len = round == 0 ? Math.min(16, t) : t;
                int n = round == 0 ? 2 : steps;
                int[] prompt = new int[len];
                for (int i = 0; i < len; i++) {
                    prompt[i] = rng.nextInt(c.vocabSize());
                }
                long t0 = System.nanoTime();
                KvCache cache = m.forward(prompt, null, LlamaModel.Options.LOGITS).present();
                long t1 = System.nanoTime();
                long c1 = mx.getCurrentThreadCpuTime();
                int next = prompt[len - 1];
                for (int k = 0; k < n; k++) {
                    cache = m.forward(new int[] {next}, cache, LlamaModel.Options.LOGITS).present();
                    next = (next + 7) % c.vocabSize();
                }
                long t2 = System.nanoTime();
                prefill = len / ((t1 - t0) / 1e9);
                decode = n / ((t2 - t1) / 1e9);
                decodeCpu = (mx.getCurrentThreadCpuTime() - c1) / 1e9 / n;
            }
        }
        System.out.println(String.format(Locale.ROOT,
                "{\"bench\": \"decode\", \"model\": \"%s\", \"dtype\": \"%s\", \"T\": %d, \"steps\": %d, \"threads\": %d,"
                        + " \"prefill_tok_s\": %.2f, \"decode_tok_s\": %.3f, \"decode_cpu_s_per_token_caller\": %.4f,"
                        + " \"weight_bytes_per_token\": %d}",
                dir, dtype, t, steps, Runtime.getRuntime().availableProcessors(), prefill, decode, decodeCpu,
                dtype.startsWith("gguf") ? heldBytesPerToken(w) : bytesPerToken(c, elementBytes)));
    }
}
