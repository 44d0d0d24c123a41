package intactkv.autograd;

import intactkv.tensor.MatMul;
import intactkv.tensor.Tensor;

/**
 * Matrix products (see {@link MatMul} for shapes). With {@code G = dL/dC}:
 * <pre>
 *   C = A B      dL/dA = G B^T      dL/dB = A^T G
 *   C = A B^T    dL/dA = G B        dL/dB = G^T A
 * </pre>
 * summed over broadcast batch axes back to each operand's shape.
 */
public final class LinearAlgebra {
    private LinearAlgebra() {
    }

    /** {@code C = A B} on the last two axes, batch axes broadcast. */
    public static Value matmul(Value a, Value b) {
        Tensor out = MatMul.matmul(a.data(), b.data());
        return Value.result("matmul", out, g -> {
            if (a.requiresGrad()) {
                a.accumulateBroadcast(MatMul.matmulTransB(g, b.data()));
            }
            if (b.requiresGrad()) {
                b.accumulateBroadcast(MatMul.matmulTransA(a.data(), g));
            }
        }, a, b);
    }

    /** {@code C = A B^T} on the last two axes, batch axes broadcast. */
    public static Value matmulTransB(Value a, Value b) {
        Tensor out = MatMul.matmulTransB(a.data(), b.data());
        return Value.result("matmulTransB", out, g -> {
            if (a.requiresGrad()) {
                a.accumulateBroadcast(MatMul.matmul(g, b.data()));
            }
            if (b.requiresGrad()) {
                b.accumulateBroadcast(MatMul.matmulTransA(g, a.data()));
            }
        }, a, b);
    }

    /**
     * {@code y = x W^T} for x (..., K) and W (N, K), like {@code torch.nn.functional.linear}
     * without bias. With x flattened to (M, K): {@code dL/dx = G W}, {@code dL/dW = G^T x}.
     */
    public static Value linear(Value x, Value w) {
        Tensor out = MatMul.linear(x.data(), w.data());
        return Value.result("linear", out, g -> {
            int n = w.data().dim(0);
            int k = w.data().dim(1);
            Tensor g2 = g.reshape(-1, n);
            if (x.requiresGrad()) {
                x.accumulate(MatMul.matmul(g2, w.data()).reshape(x.shape()));
            }
            if (w.requiresGrad()) {
                w.accumulate(MatMul.matmulTransA(g2, x.data().reshape(-1, k)));
            }
        }, x, w);
    }
}
