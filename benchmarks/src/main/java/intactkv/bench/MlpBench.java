package intactkv.bench;

import intactkv.autograd.Arithmetic;
import intactkv.autograd.Functional;
import intactkv.autograd.LinearAlgebra;
import intactkv.autograd.Value;
import intactkv.tensor.Init;
import intactkv.tensor.Tensor;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Forward and backward of a 2-layer MLP through the autograd engine:
 * {@code loss = mse(silu(x W1^T + b1) W2^T, y)} with x (256, 256), W1 (1024, 256),
 * W2 (256, 1024). {@code tools/bench/mlp_torch.py} times the same in PyTorch.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class MlpBench {
    static final int BATCH = 256;
    static final int IN = 256;
    static final int HIDDEN = 1024;

    Tensor x;
    Tensor y;
    Value w1;
    Value b1;
    Value w2;

    @Setup
    public void setup() {
        Random rng = new Random(2);
        x = Init.normal(rng, 1, BATCH, IN);
        y = Init.normal(rng, 1, BATCH, IN);
        w1 = Value.param(Init.normal(rng, 1 / Math.sqrt(IN), HIDDEN, IN));
        b1 = Value.param(Tensor.zeros(HIDDEN));
        w2 = Value.param(Init.normal(rng, 1 / Math.sqrt(HIDDEN), IN, HIDDEN));
    }

    @Benchmark
    public double forwardBackward() {
        w1.zeroGrad();
        b1.zeroGrad();
        w2.zeroGrad();
        Value h = Functional.silu(Arithmetic.add(LinearAlgebra.linear(Value.constant(x), w1), b1));
        Value loss = Functional.mse(LinearAlgebra.linear(h, w2), Value.constant(y));
        loss.backward();
        return loss.item();
    }
}
