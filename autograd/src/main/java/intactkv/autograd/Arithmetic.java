package intactkv.autograd;

import intactkv.tensor.BinaryOp;
import intactkv.tensor.Elementwise;
import intactkv.tensor.Tensor;

/**
 * Elementwise arithmetic with broadcasting. For {@code c = f(a, b)} with upstream gradient
 * {@code G = dL/dc}, each input receives its partial derivative times G, summed back to its
 * own shape (engine rule 4).
 */
public final class Arithmetic {
    private Arithmetic() {
    }

    /** {@code c = a + b}. {@code dL/da = G}, {@code dL/db = G}. */
    public static Value add(Value a, Value b) {
        Tensor out = Elementwise.binary(BinaryOp.ADD, a.data(), b.data());
        return Value.result("add", out, g -> {
            a.accumulateBroadcast(g);
            b.accumulateBroadcast(g);
        }, a, b);
    }

    /** {@code c = a - b}. {@code dL/da = G}, {@code dL/db = -G}. */
    public static Value sub(Value a, Value b) {
        Tensor out = Elementwise.binary(BinaryOp.SUB, a.data(), b.data());
        return Value.result("sub", out, g -> {
            a.accumulateBroadcast(g);
            if (b.requiresGrad()) {
                b.accumulateBroadcast(g.neg());
            }
        }, a, b);
    }

    /** {@code c = a * b}. {@code dL/da = G * b}, {@code dL/db = G * a}. */
    public static Value mul(Value a, Value b) {
        Tensor out = Elementwise.binary(BinaryOp.MUL, a.data(), b.data());
        return Value.result("mul", out, g -> {
            if (a.requiresGrad()) {
                a.accumulateBroadcast(g.mul(b.data()));
            }
            if (b.requiresGrad()) {
                b.accumulateBroadcast(g.mul(a.data()));
            }
        }, a, b);
    }

    /** {@code c = a / b}. {@code dL/da = G / b}, {@code dL/db = -G * a / b^2 = -G * c / b}. */
    public static Value div(Value a, Value b) {
        Tensor out = Elementwise.binary(BinaryOp.DIV, a.data(), b.data());
        return Value.result("div", out, g -> {
            if (a.requiresGrad()) {
                a.accumulateBroadcast(g.div(b.data()));
            }
            if (b.requiresGrad()) {
                b.accumulateBroadcast(g.mul(out).div(b.data()).neg());
            }
        }, a, b);
    }

    /** {@code c = -a}. {@code dL/da = -G}. */
    public static Value neg(Value a) {
        return Value.result("neg", a.data().neg(), g -> a.accumulate(g.neg()), a);
    }

    /** {@code c = a * s} for a constant s. {@code dL/da = s G}. */
    public static Value scale(Value a, double s) {
        return Value.result("scale", a.data().scale(s), g -> a.accumulate(g.scale(s)), a);
    }

    /** {@code c = a + s} for a constant s. {@code dL/da = G}. */
    public static Value addScalar(Value a, double s) {
        return Value.result("addScalar", Elementwise.map(a.data(), x -> x + s), a::accumulate, a);
    }

    /** {@code c = a^p} for a constant exponent p. {@code dL/da = G * p * a^(p-1)}. */
    public static Value pow(Value a, double p) {
        Tensor out = Elementwise.map(a.data(), x -> Math.pow(x, p));
        return Value.result("pow", out,
                g -> a.accumulate(g.mul(Elementwise.map(a.data(), x -> p * Math.pow(x, p - 1)))), a);
    }
}
