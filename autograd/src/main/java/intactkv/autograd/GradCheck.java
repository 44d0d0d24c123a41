package intactkv.autograd;

import intactkv.tensor.Init;
import intactkv.tensor.Tensor;
import java.util.Arrays;
import java.util.Random;
import java.util.function.Function;

/**
 * The gradient checker every op test uses (DeepBoof's pattern): analytic gradients from
 * {@link Value#backward(Tensor)} against central differences, both of the scalar
 * {@code L(x) = sum(f(x) * G)} for a random upstream gradient {@code G}.
 *
 * <p>The numeric derivative of input element {@code x_j} is
 * {@code (L(x + eps e_j) - L(x - eps e_j)) / (2 eps)}. Its error is the truncation term
 * {@code eps^2 |L'''| / 6} plus the round-off term about {@code 2^-52 |L| / eps}. With
 * {@code eps = 1e-6}, {@code |L| <= 1e3} and {@code |L'''| <= 1e2} on the test inputs that
 * is below {@code 2e-7}, so {@link #DEFAULT_TOLERANCE} (a mismatch must exceed
 * {@code 1e-6 + 1e-6 |numeric|}) cannot be met by round-off alone but catches any wrong
 * gradient term. Inputs must keep away from kinks (|x| of a clamp bound, rounding ties).
 */
public final class GradCheck {
    /** Step of the central differences. */
    public static final double EPS = 1e-6;
    /** Absolute and relative tolerance, justified in the class comment. */
    public static final double DEFAULT_TOLERANCE = 1e-6;

    private GradCheck() {
    }

    /** Worst mismatch found: the input, element, analytic and numeric values. */
    public record Report(double worstError, int input, int element, double analytic, double numeric) {
        @Override
        public String toString() {
            return String.format("worst |analytic - numeric| / (1 + |numeric|) = %.3e at input %d element %d"
                    + " (analytic %.17g, numeric %.17g)", worstError, input, element, analytic, numeric);
        }
    }

    /**
     * Compares analytic and numeric gradients of {@code f} at {@code inputs} (not modified)
     * with a standard-normal upstream gradient drawn from {@code seed}.
     */
    public static Report check(Function<Value[], Value> f, long seed, Tensor... inputs) {
        Value[] params = new Value[inputs.length];
        for (int i = 0; i < inputs.length; i++) {
            params[i] = Value.param(inputs[i].copy());
        }
        Value out = f.apply(params);
        Tensor upstream = Init.normal(new Random(seed), 1.0, out.shape().dims());
        out.backward(upstream);

        double worst = -1;
        int wi = -1;
        int wj = -1;
        double wa = 0;
        double wn = 0;
        for (int i = 0; i < inputs.length; i++) {
            Tensor[] probe = new Tensor[inputs.length];
            for (int k = 0; k < inputs.length; k++) {
                probe[k] = inputs[k].copy();
            }
            double[] x = probe[i].data();
            Tensor analytic = params[i].grad() == null ? Tensor.zeros(inputs[i].shape()) : params[i].grad();
            for (int j = 0; j < x.length; j++) {
                double saved = x[j];
                x[j] = saved + EPS;
                double plus = weightedSum(f, probe, upstream);
                x[j] = saved - EPS;
                double minus = weightedSum(f, probe, upstream);
                x[j] = saved;
                double numeric = (plus - minus) / (2 * EPS);
                double a = analytic.data()[j];
                double err = Math.abs(a - numeric) / (1 + Math.abs(numeric));
                if (!(err <= worst) || Double.isNaN(err)) {
                    worst = Double.isNaN(err) ? Double.POSITIVE_INFINITY : err;
                    wi = i;
                    wj = j;
                    wa = a;
                    wn = numeric;
                }
            }
        }
        return new Report(Math.max(worst, 0), wi, wj, wa, wn);
    }

    /**
     * {@link #check} that throws {@link AssertionError} with the worst case when the error
     * exceeds {@code tolerance}.
     */
    public static Report assertGradients(String what, Function<Value[], Value> f, long seed, double tolerance,
                                         Tensor... inputs) {
        Report r = check(f, seed, inputs);
        if (!(r.worstError() <= tolerance)) {
            throw new AssertionError(what + ": gradient mismatch for inputs of shapes "
                    + Arrays.toString(Arrays.stream(inputs).map(Tensor::shape).toArray()) + ": " + r);
        }
        return r;
    }

    private static double weightedSum(Function<Value[], Value> f, Tensor[] inputs, Tensor upstream) {
        try (GradMode.Scope s = GradMode.noGrad()) {
            Value[] c = new Value[inputs.length];
            for (int i = 0; i < inputs.length; i++) {
                c[i] = Value.constant(inputs[i]);
            }
            double[] y = f.apply(c).data().data();
            double[] g = upstream.data();
            double acc = 0;
            for (int k = 0; k < y.length; k++) {
                acc += y[k] * g[k];
            }
            return acc;
        }
    }
}
