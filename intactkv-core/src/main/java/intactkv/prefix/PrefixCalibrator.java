package intactkv.prefix;

import intactkv.autograd.AdamW;
import intactkv.autograd.Arithmetic;
import intactkv.autograd.Functional;
import intactkv.autograd.GradClip;
import intactkv.autograd.GradMode;
import intactkv.autograd.LrSchedule;
import intactkv.autograd.Parameter;
import intactkv.autograd.Selection;
import intactkv.autograd.Shaping;
import intactkv.autograd.Value;
import intactkv.model.KvCache;
import intactkv.model.LlamaModel;
import intactkv.tensor.Indexing;
import intactkv.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * IntactKV calibration ("+Cal"): the prefix keys and values are the only trainable parameters
 * of the quantized model (all weights frozen), trained to make every decoder layer's output
 * match the full-precision model's, as {@code intactkv/train_model.py::LlamaForPTQLoss}
 * ({@code compute_ptq_loss}):
 * <pre>
 *   L = sum_l 0.5 * mean_{t in counted, c} (h~_l[t, c] - h_l[t, c])^2
 * </pre>
 * with h_l the full-precision layer output on the whole sequence (computed once,
 * {@code intactkv/utils.py::get_acts_list}) and h~_l the quantized model's on the tokens after
 * the prefix, with the trainable prefix as past; prefix positions never count.
 *
 * <p>Official settings ({@link Settings#official()}, {@code intactkv_train.py} and
 * {@code scripts/train/train.sh}): AdamW lr 2e-4, betas (0.9, 0.999), eps 1e-8, no weight decay;
 * the {@code constant} schedule, which the HF Trainer runs <em>without</em> warm-up (transformers
 * {@code optimization.py::get_scheduler} returns {@code get_constant_schedule(optimizer)} for
 * {@code constant} and never reads {@code warmup_ratio = 0.03}); batch 1 with 16-step gradient
 * accumulation (each micro-batch's loss divided by 16, as accelerate's {@code backward} does); 160
 * optimizer steps; gradient-norm clip 0.3; seed 42 (sample order shuffled every epoch); the
 * prefix an fp16 parameter, so it is rounded to fp16 after every optimizer step
 * ({@link PrefixDtype}).
 */
public final class PrefixCalibrator {
    /**
     * Calibration hyper-parameters, validated.
     *
     * @param lr          AdamW learning rate (peak)
     * @param warmupRatio linear warm-up over {@code ceil(steps * ratio)} steps (HF
     *                    {@code get_constant_schedule_with_warmup}); 0 is the official constant schedule
     * @param accumulation micro-batches (of one sample) per optimizer step
     * @param steps       optimizer steps
     * @param clip        global gradient-norm clip
     * @param seed        seed of the per-epoch sample order
     * @param weightDecay AdamW decoupled weight decay (HF Trainer default 0)
     * @param prefixDtype storage precision of the trained prefix: rounded at the start and after every step
     */
    public record Settings(double lr, double warmupRatio, int accumulation, int steps, double clip, long seed,
                           double weightDecay, PrefixDtype prefixDtype) {
        public Settings {
            require(lr > 0 && Double.isFinite(lr), "--lr must be > 0: " + lr);
            require(warmupRatio >= 0 && warmupRatio <= 1, "--warmup must be in [0, 1]: " + warmupRatio);
            require(accumulation >= 1, "--accumulation must be >= 1: " + accumulation);
            require(steps >= 1, "--steps must be >= 1: " + steps);
            require(clip > 0 && Double.isFinite(clip), "--clip must be > 0: " + clip);
            require(weightDecay >= 0, "weight decay must be >= 0: " + weightDecay);
            require(prefixDtype != null, "--prefix-dtype must be f16, f32 or f64: null");
        }

        /**
         * The settings as before the official schedule and dtype were matched: the prefix kept in
         * double ({@link PrefixDtype#F64}) and the warm-up given.
         */
        public Settings(double lr, double warmupRatio, int accumulation, int steps, double clip, long seed,
                        double weightDecay) {
            this(lr, warmupRatio, accumulation, steps, clip, seed, weightDecay, PrefixDtype.F64);
        }

        private static void require(boolean ok, String message) {
            if (!ok) {
                throw new IllegalArgumentException("calibration settings: " + message);
            }
        }

        /**
         * The official code's settings ({@code intactkv_train.py} defaults and
         * {@code scripts/train/train.sh}): lr 2e-4, no warm-up (the constant schedule ignores the
         * 3 % ratio), 16-step accumulation, 160 steps, clip 0.3, seed 42, no weight decay, fp16 prefix.
         */
        public static Settings official() {
            return new Settings(2e-4, 0.0, 16, 160, 0.3, 42, 0.0, PrefixDtype.F16);
        }

        public Settings withLr(double v) {
            return new Settings(v, warmupRatio, accumulation, steps, clip, seed, weightDecay, prefixDtype);
        }

        public Settings withWarmup(double ratio) {
            return new Settings(lr, ratio, accumulation, steps, clip, seed, weightDecay, prefixDtype);
        }

        public Settings withAccumulation(int v) {
            return new Settings(lr, warmupRatio, v, steps, clip, seed, weightDecay, prefixDtype);
        }

        public Settings withSteps(int v) {
            return new Settings(lr, warmupRatio, accumulation, v, clip, seed, weightDecay, prefixDtype);
        }

        public Settings withClip(double v) {
            return new Settings(lr, warmupRatio, accumulation, steps, v, seed, weightDecay, prefixDtype);
        }

        public Settings withSeed(long v) {
            return new Settings(lr, warmupRatio, accumulation, steps, clip, v, weightDecay, prefixDtype);
        }

        public Settings withPrefixDtype(PrefixDtype v) {
            return new Settings(lr, warmupRatio, accumulation, steps, clip, seed, weightDecay, v);
        }

        /** Warm-up steps: {@code ceil(steps * ratio)}, as HF's {@code get_warmup_steps}; 0 without warm-up. */
        public int warmupSteps() {
            return (int) Math.ceil(steps * warmupRatio);
        }

        /**
         * The learning rate of each update: {@code lr} throughout without warm-up (HF
         * {@code get_constant_schedule}), else HF {@code get_constant_schedule_with_warmup}.
         */
        public LrSchedule schedule() {
            return warmupSteps() == 0 ? LrSchedule.constant(lr) : LrSchedule.constantWithWarmup(lr, warmupSteps());
        }
    }

    /** Progress: optimizer step (1-based), total steps, mean loss of the step. */
    @FunctionalInterface
    public interface Listener {
        void step(int step, int total, double loss);
    }

    /**
     * The trained prefix, the mean loss over all samples with the given prefix (before) and the
     * trained one (after), and per optimizer step its mean micro-batch loss and learning rate.
     */
    public record Result(IntactKvPrefix prefix, double lossBefore, double lossAfter, double[] stepLosses,
                         double[] stepLrs) {
    }

    private final LlamaModel fp;
    private final LlamaModel quantized;

    public PrefixCalibrator(LlamaModel fp, LlamaModel quantized) {
        this.fp = fp;
        this.quantized = quantized;
    }

    /** Full-precision layer outputs at the counted positions of a sample, one (n, d) tensor per layer. */
    List<Tensor> targets(CalibrationSample s) {
        try (GradMode.Scope g = GradMode.noGrad()) {
            LlamaModel.Output o = fp.forward(s.ids(), null, LlamaModel.Options.WITH_HIDDEN);
            List<Tensor> out = new ArrayList<>();
            for (Value h : o.hidden()) {
                Tensor h2 = h.data().reshape(s.ids().length, fp.config().hiddenSize());
                out.add(Indexing.indexSelect(h2, s.counted()));
            }
            return out;
        }
    }

    /** The loss of one sample with prefix cache {@code cache}, recorded on the engine when the cache is trainable. */
    Value loss(CalibrationSample s, List<Tensor> targets, IntactKvPrefix prefix, KvCache cache) {
        int p = prefix.length();
        if (!prefix.isPrefixOf(s.ids())) {
            throw new IllegalArgumentException("calibration sample does not start with the prefix ids");
        }
        int[] rest = Arrays.copyOfRange(s.ids(), p, s.ids().length);
        LlamaModel.Output o = quantized.forward(rest, cache, LlamaModel.Options.WITH_HIDDEN);
        int[] rows = Arrays.stream(s.counted()).map(i -> i - p).toArray();
        Value total = null;
        for (int l = 0; l < o.hidden().size(); l++) {
            Value h = Shaping.reshape(o.hidden().get(l), rest.length, quantized.config().hiddenSize());
            Value picked = Selection.embedding(h, rows);
            Value term = Arithmetic.scale(Functional.mse(picked, Value.constant(targets.get(l))), 0.5);
            total = total == null ? term : Arithmetic.add(total, term);
        }
        return total;
    }

    /** Mean loss over {@code samples} with {@code prefix}. */
    public double meanLoss(List<CalibrationSample> samples, List<List<Tensor>> targets, IntactKvPrefix prefix) {
        KvCache cache = prefix.asCache(false);
        double sum = 0;
        try (GradMode.Scope g = GradMode.noGrad()) {
            for (int i = 0; i < samples.size(); i++) {
                sum += loss(samples.get(i), targets.get(i), prefix, cache).item();
            }
        }
        return sum / samples.size();
    }

    /**
     * Trains {@code prefix} on {@code samples}; see the class comment. Each epoch visits the
     * samples in an order shuffled with {@code java.util.Random(seed)} (the HF Trainer draws it
     * from torch's generator: the same kind of order, not the same permutation); the micro-batches
     * run on across epoch boundaries, which is the HF Trainer's grouping whenever the number of
     * samples is a multiple of {@code accumulation} (128 and 16 officially). The result's
     * {@code lossBefore} is measured with {@code prefix} as given, before it is stored in
     * {@code st.prefixDtype()}.
     */
    public Result calibrate(IntactKvPrefix prefix, List<CalibrationSample> samples, Settings st, Listener listener) {
        prefix.requireFits(quantized.config(), "IntactKV prefix");
        List<List<Tensor>> targets = new ArrayList<>();
        for (CalibrationSample s : samples) {
            targets.add(targets(s));
        }
        double before = meanLoss(samples, targets, prefix);
        KvCache cache = prefix.asCache(true);
        List<Parameter> params = new ArrayList<>();
        for (int l = 0; l < cache.layers(); l++) {
            params.add(new Parameter("intactkv.k." + l, cache.keys().get(l)));
            params.add(new Parameter("intactkv.v." + l, cache.values().get(l)));
        }
        roundPrefix(params, st.prefixDtype()); // the official parameter is fp16 from the start
        AdamW opt = new AdamW(params, new AdamW.Config(0.9, 0.999, 1e-8, st.weightDecay()));
        LrSchedule schedule = st.schedule();
        Random rng = new Random(st.seed());
        List<Integer> order = new ArrayList<>();
        int cursor = 0;
        double[] stepLosses = new double[st.steps()];
        double[] stepLrs = new double[st.steps()];
        for (int step = 0; step < st.steps(); step++) {
            Parameter.zeroGrad(params);
            double sum = 0;
            for (int micro = 0; micro < st.accumulation(); micro++) {
                if (cursor == order.size()) { // a new epoch: reshuffle
                    order.clear();
                    for (int i = 0; i < samples.size(); i++) {
                        order.add(i);
                    }
                    Collections.shuffle(order, rng);
                    cursor = 0;
                }
                int k = order.get(cursor++);
                Value loss = loss(samples.get(k), targets.get(k), prefix, cache);
                if (!Double.isFinite(loss.item())) {
                    throw new IllegalStateException("calibration loss is " + loss.item() + " at step " + (step + 1)
                            + ", sample " + k + " (a NaN or infinity in the model, the prefix or its gradient; try a lower --lr)");
                }
                sum += loss.item();
                Arithmetic.scale(loss, 1.0 / st.accumulation()).backward();
            }
            GradClip.clipGradNorm(params, st.clip());
            stepLrs[step] = schedule.lr(step);
            opt.step(stepLrs[step]);
            roundPrefix(params, st.prefixDtype());
            stepLosses[step] = sum / st.accumulation();
            listener.step(step + 1, st.steps(), stepLosses[step]);
        }
        IntactKvPrefix trained = prefix.withCache(cache);
        double after = meanLoss(samples, targets, trained);
        return new Result(trained, before, after, stepLosses, stepLrs);
    }

    /** Stores every prefix entry in {@code dtype} (no-op for f64). */
    private static void roundPrefix(List<Parameter> params, PrefixDtype dtype) {
        for (Parameter p : params) {
            dtype.roundInPlace(p.value().data());
        }
    }
}
