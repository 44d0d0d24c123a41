package intactkv.train;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import intactkv.autograd.AdamW;
import intactkv.autograd.Attention;
import intactkv.autograd.Functional;
import intactkv.autograd.GradClip;
import intactkv.autograd.GradMode;
import intactkv.autograd.LrSchedule;
import intactkv.autograd.Parameter;
import intactkv.autograd.Shaping;
import intactkv.autograd.Value;
import intactkv.model.AttentionMass;
import intactkv.model.LlamaConfig;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.io.AtomicFiles;
import intactkv.model.io.DType;
import intactkv.model.io.SafetensorsReader;
import intactkv.model.io.SafetensorsWriter;
import intactkv.tensor.Shape;
import intactkv.tensor.Tensor;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Trains a LLaMA from scratch with the project's autograd engine: next-token cross-entropy on
 * batches of windows that start at a document boundary with [BOS] in front (as the perplexity
 * protocol's windows have), AdamW with linear warm-up and cosine decay (or a constant rate),
 * global gradient-norm clipping, periodic validation and atomic, resumable checkpoints.
 *
 * <p>Determinism: the batch of step s is drawn from {@code new Random(stepSeed(seed, s))}, so a resumed
 * run sees the same batches as an uninterrupted one. A checkpoint directory holds the weights,
 * the optimizer moments and step counts, and {@code state.json}; it is written to a temporary
 * directory and moved into place, so an interruption loses at most one checkpoint interval.
 */
public final class Trainer {
    /** Training settings, validated. */
    public record Config(LlamaConfig model, int seqlen, int batch, int steps, double lr, int warmup,
                         double weightDecay, double clip, int evalEvery, int evalWindows, int checkpointEvery,
                         long seed, double initStd, double backcopyFraction, int backcopyTriggers,
                         int backcopyBranching, double isolateFraction, double hideSeparators, double qkWeightDecay,
                         Schedule schedule) {
        /** The settings with one weight decay for all parameters (the trainer before {@code qkWeightDecay}). */
        public Config(LlamaConfig model, int seqlen, int batch, int steps, double lr, int warmup, double weightDecay,
                      double clip, int evalEvery, int evalWindows, int checkpointEvery, long seed, double initStd,
                      double backcopyFraction, int backcopyTriggers, int backcopyBranching, double isolateFraction,
                      double hideSeparators, Schedule schedule) {
            this(model, seqlen, batch, steps, lr, warmup, weightDecay, clip, evalEvery, evalWindows, checkpointEvery,
                    seed, initStd, backcopyFraction, backcopyTriggers, backcopyBranching, isolateFraction, hideSeparators,
                    weightDecay, schedule);
        }

        /** The settings without separator hiding (the trainer before {@code hideSeparators}). */
        public Config(LlamaConfig model, int seqlen, int batch, int steps, double lr, int warmup, double weightDecay,
                      double clip, int evalEvery, int evalWindows, int checkpointEvery, long seed, double initStd,
                      double backcopyFraction, int backcopyTriggers, int backcopyBranching, double isolateFraction,
                      Schedule schedule) {
            this(model, seqlen, batch, steps, lr, warmup, weightDecay, clip, evalEvery, evalWindows, checkpointEvery,
                    seed, initStd, backcopyFraction, backcopyTriggers, backcopyBranching, isolateFraction, 0.0, weightDecay,
                    schedule);
        }

        public Config {
            if (schedule == null) {
                throw new IllegalArgumentException("invalid training settings: no learning-rate schedule");
            }
            if (seqlen < 2 || batch < 1 || steps < 1 || !(lr > 0) || warmup < 0 || warmup > steps || weightDecay < 0
                    || !(clip > 0) || evalEvery < 1 || evalWindows < 1 || checkpointEvery < 1 || !(initStd > 0)
                    || !(backcopyFraction >= 0 && backcopyFraction < 1) || backcopyTriggers < 1 || backcopyBranching < 0
                    || !(isolateFraction >= 0 && isolateFraction <= 1) || !(hideSeparators >= 0 && hideSeparators <= 1) || !(qkWeightDecay >= 0)) {
                throw new IllegalArgumentException("invalid training settings: seqlen " + seqlen + ", batch " + batch
                        + ", steps " + steps + ", lr " + lr + ", warm-up " + warmup + " (at most the steps), weight decay "
                        + weightDecay + ", clip " + clip + ", intervals " + evalEvery + "/" + checkpointEvery
                        + ", backcopy fraction " + backcopyFraction + " (in [0, 1)), triggers " + backcopyTriggers
                        + ", branching " + backcopyBranching + ", isolate fraction " + isolateFraction
                        + ", hide-separators fraction " + hideSeparators + " (both in [0, 1]), W_q/W_k weight decay "
                        + qkWeightDecay);
            }
        }
    }

    /**
     * The learning-rate schedule after the linear warm-up: HF's cosine decay to 0 at the last step
     * ({@code get_cosine_schedule_with_warmup}), or the peak rate held
     * ({@code get_constant_schedule_with_warmup}), whose rate at a step does not depend on
     * {@code steps}, so a run stopped at step s is reproduced exactly by {@code --steps s}.
     */
    public enum Schedule {
        COSINE, CONSTANT;

        LrSchedule of(double lr, int warmup, int steps) {
            return this == COSINE ? LrSchedule.cosineWithWarmup(lr, warmup, steps)
                    : LrSchedule.constantWithWarmup(lr, warmup);
        }
    }

    /** What the listener sees after each step. */
    public record Progress(int step, int steps, double loss, double tokensPerSecond, double lr) {
    }

    /**
     * One validation measurement: losses, the mean attention on [BOS] over layers >= 1, heads and
     * queries >= 32 of the first validation window, and how many of those heads put at least 30 % of
     * their attention on [BOS] (the built-in model's pivot-token criterion); the same two numbers on one
     * Bigram-Backcopy sequence when the run mixes them in (NaN and -1 otherwise).
     */
    public record Eval(int step, double trainLoss, double validLoss, double bosAttention, int sinkHeads,
                       double backcopyBosAttention, int backcopySinkHeads) {
    }

    /** Receives progress and evaluations. */
    public interface Listener {
        void progress(Progress p);

        void eval(Eval e);
    }

    private final Config cfg;
    private final int[] train;
    private final int[] starts;
    private final int[] valid;
    private final int bos;
    private final int newline;
    private final BigramBackcopy backcopy;
    /** The back-copy sequence whose attention on [BOS] each validation measures (null without back-copy). */
    private final int[] backcopyWindow;

    /**
     * @param train  the training token stream (documents joined with "\n\n", tokenized whole)
     * @param starts token positions where a document begins
     * @param valid  the validation token stream
     * @param newline the newline token id (never a back-copy trigger)
     */
    public Trainer(Config cfg, int[] train, int[] starts, int[] valid, int newline) {
        this.cfg = cfg;
        this.train = train;
        this.starts = Arrays.stream(starts).filter(s -> s + cfg.seqlen() - 1 <= train.length).toArray();
        this.valid = valid;
        this.bos = cfg.model().bosTokenId();
        this.newline = newline;
        if (this.starts.length == 0 || valid.length < cfg.seqlen()) {
            throw new IllegalArgumentException("not enough data for windows of " + cfg.seqlen() + " tokens (train "
                    + train.length + ", valid " + valid.length + ")");
        }
        this.backcopy = cfg.backcopyFraction() > 0
                ? new BigramBackcopy(train, cfg.model().vocabSize(), cfg.backcopyTriggers(),
                cfg.backcopyBranching(), bos, newline) : null;
        this.backcopyWindow = backcopy == null ? null
                : backcopy.sample(new Random(cfg.seed() ^ 0x5EED), cfg.seqlen(), bos);
    }

    /** The back-copy generator, or null when the run mixes in no synthetic sequences. */
    public BigramBackcopy backcopy() {
        return backcopy;
    }

    /** Positions right after each "\n\n" (two {@code newline} tokens) and 0: where documents start. */
    public static int[] documentStarts(int[] stream, int newline) {
        List<Integer> out = new ArrayList<>(List.of(0));
        for (int i = 1; i < stream.length; i++) {
            if (stream[i] == newline && stream[i - 1] == newline && i + 1 < stream.length) {
                out.add(i + 1);
            }
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    /**
     * One training batch: token ids (B, T) and, when some window is isolated, the document mask
     * {@code visibleFrom} (B, T) of {@link LlamaModel#forward(int[][], intactkv.model.KvCache,
     * LlamaModel.Options, int[][])} (null when none is); when some window hides its separators,
     * {@code selfOnly} (B, T), true at those separators ({@link Attention.Mask}; null when none does).
     */
    record Batch(int[][] ids, int[][] visibleFrom, boolean[][] selfOnly) {
        Batch(int[][] ids, int[][] visibleFrom) {
            this(ids, visibleFrom, null);
        }

        Attention.Mask mask() {
            return new Attention.Mask(visibleFrom, selfOnly);
        }
    }

    /**
     * The batch of step {@code step}: each sequence is [BOS] + the tokens from a random document
     * start, or, with probability {@code backcopyFraction}, a {@link BigramBackcopy} sequence. A
     * natural window is isolated with probability {@code isolateFraction}: each of its documents
     * then sees only [BOS] and itself ({@link #documentMask}). Independently, with probability
     * {@code hideSeparators}, a natural window hides its separator tokens: each "\n" is seen by
     * itself only ({@link #separatorMask}), so no later query can rest its attention on one. With
     * either fraction 0 its number is not drawn, so the batches are those of a trainer without
     * the option.
     */
    Batch batch(int step) {
        Random rng = new Random(stepSeed(cfg.seed(), step));
        int[][] b = new int[cfg.batch()][];
        int[][] from = null;
        boolean[][] self = null;
        for (int i = 0; i < b.length; i++) {
            if (backcopy != null && rng.nextDouble() < cfg.backcopyFraction()) {
                b[i] = backcopy.sample(rng, cfg.seqlen(), bos);
                continue;
            }
            int s = starts[rng.nextInt(starts.length)];
            int[] w = new int[cfg.seqlen()];
            w[0] = bos;
            System.arraycopy(train, s, w, 1, cfg.seqlen() - 1);
            b[i] = w;
            if (cfg.isolateFraction() > 0 && rng.nextDouble() < cfg.isolateFraction()) {
                if (from == null) {
                    from = new int[b.length][];
                }
                from[i] = documentMask(w, newline);
            }
            if (cfg.hideSeparators() > 0 && rng.nextDouble() < cfg.hideSeparators()) {
                if (self == null) {
                    self = new boolean[b.length][];
                }
                self[i] = separatorMask(w, newline);
            }
        }
        if (self != null) {
            for (int i = 0; i < b.length; i++) {
                if (self[i] == null) {
                    self[i] = new boolean[cfg.seqlen()];
                }
            }
        }
        if (from != null) {
            for (int i = 0; i < b.length; i++) {
                if (from[i] == null) {
                    from[i] = new int[cfg.seqlen()];
                    Arrays.fill(from[i], 1);
                }
            }
        }
        return new Batch(b, from, self);
    }

    /**
     * The separator mask of a window: true at each {@code newline} token after position 0, the
     * keys {@link Attention.Mask#selfOnly()} hides from every later query. Natural text keeps its
     * cross-gloss context (the words of the earlier glosses stay visible) but loses the separators
     * that the heads of these models otherwise park their attention on (docs/DEFAULT_MODEL.md,
     * sessions 3-6), so [BOS] is the one token every query can always rest on.
     */
    static boolean[] separatorMask(int[] window, int newline) {
        boolean[] self = new boolean[window.length];
        for (int t = 1; t < window.length; t++) {
            self[t] = window[t] == newline;
        }
        return self;
    }

    /**
     * The document mask of a window {@code [BOS] doc "\n\n" doc "\n\n" ...}: for each position
     * t, the position where its document starts (1 for the first document; a document's two
     * separator tokens belong to it; position 0 gets 1). With it, attention reads [BOS] and the
     * query's own document only, so [BOS] is the one key all queries share.
     */
    static int[] documentMask(int[] window, int newline) {
        int[] starts = documentStarts(window, newline); // 0, then each position after a "\n\n"
        int[] from = new int[window.length];
        int k = 0;
        for (int t = 0; t < window.length; t++) {
            while (k + 1 < starts.length && starts[k + 1] <= t) {
                k++;
            }
            from[t] = Math.max(1, starts[k]); // the first document starts after [BOS]
        }
        return from;
    }

    /**
     * The seed of step {@code step}'s batch: SplitMix64's finalizer applied to {@code seed} and
     * {@code step}. Seeding {@code java.util.Random} with {@code seed + step} directly would not do:
     * its first {@code nextDouble()} grows by only about 9e-5 from one seed to the next, so the first
     * draw of consecutive batches would be nearly the same.
     */
    static long stepSeed(long seed, int step) {
        long z = seed * 0x9E3779B97F4A7C15L + step;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** Mean next-token cross-entropy of a batch (B, T). */
    static Value loss(LlamaModel m, int[][] ids) {
        return loss(m, new Batch(ids, null));
    }

    /** Mean next-token cross-entropy of a batch (B, T), under its document mask if it has one. */
    static Value loss(LlamaModel m, Batch batch) {
        int[][] ids = batch.ids();
        int b = ids.length;
        int t = ids[0].length;
        Value logits = m.forward(ids, null, LlamaModel.Options.LOGITS, batch.mask()).logits();
        int v = m.config().vocabSize();
        Value flat = Shaping.reshape(Shaping.slice(logits, 1, 0, t - 1), b * (t - 1), v);
        int[] targets = new int[b * (t - 1)];
        for (int i = 0; i < b; i++) {
            System.arraycopy(ids[i], 1, targets, i * (t - 1), t - 1);
        }
        return Functional.crossEntropy(flat, targets);
    }

    /** Validation: mean loss over the first {@code evalWindows} windows of the validation stream, and attention on [BOS]. */
    public double[] validate(LlamaModel m) {
        try (GradMode.Scope s = GradMode.noGrad()) {
            int n = Math.min(cfg.evalWindows(), valid.length / cfg.seqlen());
            double sum = 0;
            for (int i = 0; i < n; i++) {
                int[] w = Arrays.copyOfRange(valid, i * cfg.seqlen(), (i + 1) * cfg.seqlen());
                w[0] = bos;
                sum += loss(m, new int[][] {w}).item();
            }
            int[] w = Arrays.copyOfRange(valid, 0, cfg.seqlen());
            w[0] = bos;
            int from = Math.min(32, cfg.seqlen() / 2);
            double[] bos = bosAttention(m, w, from);
            double[] bb = backcopyWindow == null ? new double[] {Double.NaN, -1} : bosAttention(m, backcopyWindow, from);
            return new double[] {sum / n, bos[0], bos[1], bb[0], bb[1]};
        }
    }

    /**
     * Attention on position 0 over layers >= 1 and queries >= {@code from}: {mean over heads, number
     * of heads with at least {@link AttentionMass#SINK_SHARE}}.
     */
    static double[] bosAttention(LlamaModel m, int[] w, int from) {
        double[][][] mass = AttentionMass.onFirstKeys(AttentionMass.attentions(m, w), 1, from);
        double sum = 0;
        int heads = 0;
        int sinks = 0;
        for (int l = Math.min(1, mass.length - 1); l < mass.length; l++) {
            for (double[] head : mass[l]) {
                sum += head[0];
                heads++;
            }
            sinks += AttentionMass.sinkHeads(mass[l]);
        }
        return new double[] {sum / heads, sinks};
    }

    /**
     * AdamW (betas 0.9, 0.95, eps 1e-8) with weight decay {@code weightDecay} on every parameter except the
     * query and key projections ({@code q_proj.weight}, {@code k_proj.weight}), which get {@code qkWeightDecay}:
     * decay shrinks W_q and W_k towards a head that attends uniformly, so a separate (lower) value lets heads
     * keep sharp patterns while the rest of the model is still regularised.
     */
    AdamW optimizer(LlamaWeights w) {
        return new AdamW(w.parameters(), new AdamW.Config(0.9, 0.95, 1e-8, cfg.weightDecay()),
                p -> isQueryOrKey(p.name()) ? cfg.qkWeightDecay() : cfg.weightDecay());
    }

    static boolean isQueryOrKey(String name) {
        return name.endsWith("self_attn.q_proj.weight") || name.endsWith("self_attn.k_proj.weight");
    }

    /**
     * Trains into {@code out} (final weights in {@code out}, checkpoints in {@code out/checkpoint}),
     * resuming from the checkpoint if there is one. Returns the final weights.
     */
    public LlamaWeights train(Path out, Listener listener) throws IOException {
        Files.createDirectories(out);
        Path ckpt = out.resolve("checkpoint");
        LlamaWeights w;
        int start = 0;
        double recent = Double.NaN;
        AdamW opt;
        if (Files.isRegularFile(ckpt.resolve("state.json"))) {
            w = LlamaWeights.load(ckpt, true);
            opt = optimizer(w);
            JsonObject state = restore(ckpt, w, opt);
            start = state.get("step").getAsInt();
            // the logged train loss is a running average: resumed from the checkpoint's, the log goes on
            // as the uninterrupted run's would (checkpoints of older builds lack it: it restarts)
            if (state.has("train_loss_ema")) {
                recent = state.get("train_loss_ema").getAsDouble();
            }
        } else {
            w = LlamaWeights.random(cfg.model(), cfg.seed(), cfg.initStd(), false, true);
            opt = optimizer(w);
        }
        LlamaModel m = new LlamaModel(w);
        List<Parameter> params = w.parameters();
        LrSchedule schedule = cfg.schedule().of(cfg.lr(), cfg.warmup(), cfg.steps());
        for (int step = start; step < cfg.steps(); step++) {
            long t0 = System.nanoTime();
            double lr = schedule.lr(step);
            double l = step(m, params, opt, step, lr);
            // Collect between steps, when only the weights and optimizer state are alive (tens of MB):
            // a collection in the middle of the next step would copy that step's graph (about 1 GB at
            // B 16, T 256) instead. Measured: 1.95 -> 1.58 s per step on one thread (docs/PERFORMANCE.md).
            System.gc();
            if (!Double.isFinite(l)) {
                throw new IllegalStateException("training diverged at step " + step + " (loss " + l + "); lower --lr");
            }
            recent = Double.isNaN(recent) ? l : 0.95 * recent + 0.05 * l;
            double tps = (double) cfg.batch() * cfg.seqlen() / ((System.nanoTime() - t0) / 1e9);
            listener.progress(new Progress(step + 1, cfg.steps(), recent, tps, lr));
            boolean last = step + 1 == cfg.steps();
            if ((step + 1) % cfg.evalEvery() == 0 || last) {
                double[] v = validate(m);
                listener.eval(new Eval(step + 1, recent, v[0], v[1], (int) v[2], v[3], (int) v[4]));
            }
            if ((step + 1) % cfg.checkpointEvery() == 0 && !last) {
                checkpoint(ckpt, w, opt, step + 1, recent);
            }
        }
        return w;
    }

    /**
     * One optimizer step on the batch of step {@code step}; returns its loss. The graph of the step
     * is unreachable once this returns, so the next step's allocations do not find it alive (the
     * training loop runs mostly interpreted, and an interpreted frame keeps every local alive).
     */
    private double step(LlamaModel m, List<Parameter> params, AdamW opt, int step, double lr) {
        Parameter.zeroGrad(params);
        Value loss = loss(m, batch(step));
        loss.backward();
        GradClip.clipGradNorm(params, cfg.clip());
        opt.step(lr);
        return loss.item();
    }

    private void checkpoint(Path dir, LlamaWeights w, AdamW opt, int step, double trainLossEma) throws IOException {
        Path tmp = AtomicFiles.createTempDirectory(dir); // umask permissions, removed on Ctrl-C
        try {
            w.save(tmp, DType.F64);
            SafetensorsWriter sw = new SafetensorsWriter();
            for (Parameter p : w.parameters()) {
                double[][] mv = opt.moments(p);
                if (mv != null) {
                    sw.put(p.name() + ".exp_avg", DType.F64, Tensor.wrap(mv[0], p.value().shape()));
                    sw.put(p.name() + ".exp_avg_sq", DType.F64, Tensor.wrap(mv[1], p.value().shape()));
                    sw.putLongs(p.name() + ".step", DType.I64, new long[] {opt.stepCount(p)}, Shape.of(1));
                }
            }
            sw.write(tmp.resolve("optimizer.safetensors"));
            JsonObject state = new JsonObject();
            state.addProperty("step", step);
            state.addProperty("seed", cfg.seed());
            state.addProperty("train_loss_ema", trainLossEma);
            AtomicFiles.writeString(tmp.resolve("state.json"), new GsonBuilder().setPrettyPrinting().create().toJson(state));
            Path old = dir.resolveSibling(".checkpoint.old");
            AtomicFiles.deleteTree(old);
            if (Files.exists(dir)) {
                Files.move(dir, old, StandardCopyOption.ATOMIC_MOVE);
            }
            Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
            AtomicFiles.deleteTree(old);
        } finally {
            AtomicFiles.deleteTemp(tmp);
        }
    }

    /** Restores the weights' optimizer state from {@code dir}; returns state.json (step, seed, train_loss_ema). */
    private static JsonObject restore(Path dir, LlamaWeights w, AdamW opt) throws IOException {
        JsonObject state = JsonParser.parseString(Files.readString(dir.resolve("state.json"), StandardCharsets.UTF_8))
                .getAsJsonObject();
        try (SafetensorsReader r = SafetensorsReader.open(dir.resolve("optimizer.safetensors"))) {
            for (Parameter p : w.parameters()) {
                if (r.contains(p.name() + ".exp_avg")) {
                    opt.restore(p, r.read(p.name() + ".exp_avg").data(), r.read(p.name() + ".exp_avg_sq").data(),
                            (int) r.readLongs(p.name() + ".step")[0]);
                }
            }
        }
        return state;
    }
}
