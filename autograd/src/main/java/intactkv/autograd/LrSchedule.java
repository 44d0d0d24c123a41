package intactkv.autograd;

/**
 * Learning-rate schedules as Hugging Face {@code transformers} defines them (a
 * {@code LambdaLR} multiplier of the base rate). {@code step} counts the optimiser steps
 * already taken, so the first update uses {@code lr(0)}: with warm-up that is 0, as in HF.
 */
@FunctionalInterface
public interface LrSchedule {
    /** The learning rate for the update after {@code step} completed updates. */
    double lr(int step);

    /** A constant rate. */
    static LrSchedule constant(double base) {
        return step -> base;
    }

    /**
     * HF {@code get_constant_schedule_with_warmup}: {@code base * step / max(1, warmup)} while
     * {@code step < warmup}, then {@code base}.
     */
    static LrSchedule constantWithWarmup(double base, int warmup) {
        if (warmup < 0) {
            throw new IllegalArgumentException("warm-up steps must be >= 0, got " + warmup);
        }
        return step -> step < warmup ? base * step / Math.max(1.0, warmup) : base;
    }

    /**
     * HF {@code get_cosine_schedule_with_warmup} (half a cycle): linear warm-up, then
     * {@code base * max(0, 0.5 (1 + cos(pi * progress)))} with
     * {@code progress = (step - warmup) / max(1, total - warmup)}.
     */
    static LrSchedule cosineWithWarmup(double base, int warmup, int total) {
        if (warmup < 0 || total < warmup) {
            throw new IllegalArgumentException("cosine schedule: need 0 <= warm-up <= total, got warm-up "
                    + warmup + ", total " + total);
        }
        return step -> {
            if (step < warmup) {
                return base * step / Math.max(1.0, warmup);
            }
            double progress = (double) (step - warmup) / Math.max(1, total - warmup);
            return base * Math.max(0.0, 0.5 * (1.0 + Math.cos(Math.PI * 0.5 * 2.0 * progress)));
        };
    }
}
