package intactkv.tensor;

import java.util.function.DoubleBinaryOperator;

/**
 * The elementwise binary operations that have hand-written fast loops in {@link Elementwise}.
 * Each is also a {@link DoubleBinaryOperator}, used on the general broadcasting path.
 */
public enum BinaryOp implements DoubleBinaryOperator {
    /** {@code a + b} */
    ADD {
        @Override
        public double applyAsDouble(double a, double b) {
            return a + b;
        }
    },
    /** {@code a - b} */
    SUB {
        @Override
        public double applyAsDouble(double a, double b) {
            return a - b;
        }
    },
    /** {@code a * b} */
    MUL {
        @Override
        public double applyAsDouble(double a, double b) {
            return a * b;
        }
    },
    /** {@code a / b} (IEEE: division by zero gives +-Inf or NaN) */
    DIV {
        @Override
        public double applyAsDouble(double a, double b) {
            return a / b;
        }
    },
    /** {@code max(a, b)} with NaN propagating, like {@code torch.maximum} */
    MAX {
        @Override
        public double applyAsDouble(double a, double b) {
            return Math.max(a, b);
        }
    },
    /** {@code min(a, b)} with NaN propagating, like {@code torch.minimum} */
    MIN {
        @Override
        public double applyAsDouble(double a, double b) {
            return Math.min(a, b);
        }
    },
    /** {@code a ^ b} as {@link Math#pow} */
    POW {
        @Override
        public double applyAsDouble(double a, double b) {
            return Math.pow(a, b);
        }
    }
}
