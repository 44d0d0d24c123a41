import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.Random;

/**
 * The TinyLlama-shaped decode of two builds in one JVM, a token of each in turn, so that their speed ratio is
 * measured under the same load: on the shared 2-vCPU benchmark VMs another tenant's burst can slow one build's
 * separate run by 40-50 % (session 22: a pair of separate runs at 2.14x where the other pairs of that run were at
 * 3.2-4.6x),
 * while here it slows a token of each build alike. Each build's classes come from its own class loader (as in
 * {@code GemmAB}), so each is compiled on its own and has its own worker threads; both decode the same prompt, and
 * the order within a pair of tokens alternates. The API used (LlamaWeights.load, LlamaModel.forward with a cache,
 * present()) is the same in the baseline (2d78265) and this build. Prints each build's median tokens/s and
 * the median and quartiles of the per-token speed ratio A / B, and one JSON line.
 *
 * <pre>
 *   java --add-modules jdk.incubator.vector -XX:+UseParallelGC -Xmx14g tools/bench/DecodeAB.java A.jar B.jar CHECKPOINT T STEPS
 * </pre>
 * The jars are benchmarks.jar of each build (they contain the model). The baseline holds TinyLlama as doubles
 * (8.8 GB) beside this build's BF16 (2.2 GB): give the JVM 14 GB, and run it under {@code flock /tmp/bigmem.lock}.
 * Before the timed tokens each build prefills a 16-token prompt and decodes two tokens to warm up the JIT.
 */
public final class DecodeAB {
    /** One build's model, reached by reflection through its own class loader. */
    private record Build(Object model, MethodHandle forward, MethodHandle present, Object logits) {
        /** Forward pass over {@code ids} with {@code cache} (null for a prompt); the cache after it. */
        Object step(int[] ids, Object cache) throws Throwable {
            return present.invoke(forward.invoke(model, ids, cache, logits));
        }
    }

    public static void main(String[] args) throws Throwable {
        if (args.length != 5) {
            throw new IllegalArgumentException("usage: DecodeAB A.jar B.jar CHECKPOINT T STEPS");
        }
        Path dir = Path.of(args[2]);
        int t = Integer.parseInt(args[3]);
        int steps = Integer.parseInt(args[4]);
        Build[] builds = new Build[2];
        int vocab = 0;
        for (int v = 0; v < 2; v++) {
            URLClassLoader loader = new URLClassLoader(new URL[] {new java.io.File(args[v]).toURI().toURL()},
                    ClassLoader.getPlatformClassLoader());
            Class<?> weights = Class.forName("intactkv.model.LlamaWeights", true, loader);
            Class<?> modelClass = Class.forName("intactkv.model.LlamaModel", true, loader);
            Class<?> cacheClass = Class.forName("intactkv.model.KvCache", true, loader);
            Class<?> options = Class.forName("intactkv.model.LlamaModel$Options", true, loader);
            Class<?> gradMode = Class.forName("intactkv.autograd.GradMode", true, loader);
            Object w = weights.getMethod("load", Path.class, boolean.class).invoke(null, dir, false);
            Object config = weights.getMethod("config").invoke(w);
            vocab = (int) config.getClass().getMethod("vocabSize").invoke(config);
            Object model = modelClass.getConstructor(weights).newInstance(w);
            gradMode.getMethod("noGrad").invoke(null); // this thread's scope, never closed: no graph is recorded
            Method forward = modelClass.getMethod("forward", int[].class, cacheClass, options);
            Method present = forward.getReturnType().getMethod("present");
            builds[v] = new Build(model, MethodHandles.publicLookup().unreflect(forward),
                    MethodHandles.publicLookup().unreflect(present), options.getField("LOGITS").get(null));
        }
        Random rng = new Random(2);
        double[][] seconds = new double[2][steps];
        for (int round = 0; round < 2; round++) { // round 0 warms up the JIT
            int len = round == 0 ? Math.min(16, t) : t;
            int n = round == 0 ? 2 : steps;
            int[] prompt = new int[len];
            for (int i = 0; i < len; i++) {
                prompt[i] = rng.nextInt(vocab);
            }
            Object[] cache = new Object[2];
            for (int v = 0; v < 2; v++) {
                cache[v] = builds[v].step(prompt, null);
            }
            int next = prompt[len - 1];
            for (int k = 0; k < n; k++) {
                for (int i = 0; i < 2; i++) {
                    int v = (k & 1) == 0 ? i : 1 - i;
                    long t0 = System.nanoTime();
                    cache[v] = builds[v].step(new int[] {next}, cache[v]);
                    if (round == 1) {
                        seconds[v][k] = (System.nanoTime() - t0) / 1e9;
                    }
                }
                next = (next + 7) % vocab;
            }
        }
        double[] median = new double[2];
        for (int v = 0; v < 2; v++) {
            double[] s = seconds[v].clone();
            Arrays.sort(s);
            median[v] = 1 / s[steps / 2];
            System.out.printf(Locale.ROOT, "%s: median %.3f tokens/s (fastest %.3f, slowest %.3f)%n",
                    v == 0 ? "A" : "B", median[v], 1 / s[0], 1 / s[steps - 1]);
        }
        double[] ratio = new double[steps];
        for (int k = 0; k < steps; k++) {
            ratio[k] = seconds[1][k] / seconds[0][k];
        }
        Arrays.sort(ratio);
        System.out.printf(Locale.ROOT, "A/B speed: median of per-token ratios %.2f (quartiles %.2f %.2f, lowest %.2f)%n",
                ratio[steps / 2], ratio[steps / 4], ratio[3 * steps / 4], ratio[0]);
        System.out.printf(Locale.ROOT, "{\"bench\": \"decode_ab\", \"T\": %d, \"steps\": %d, \"a_tok_s\": %.3f,"
                        + " \"b_tok_s\": %.3f, \"ratio_median\": %.3f, \"ratio_q1\": %.3f, \"ratio_q3\": %.3f,"
                        + " \"ratio_min\": %.3f}%n", t, steps, median[0], median[1], ratio[steps / 2],
                ratio[steps / 4], ratio[3 * steps / 4], ratio[0]);
    }
}
