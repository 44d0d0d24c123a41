package intactkv.bench;

import intactkv.tensor.Init;
import intactkv.tensor.MatMul;
import intactkv.tensor.Tensor;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.CommonOps_MT_DDRM;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Square double matmul {@code C = A B} of size n: the project's kernel ({@link MatMul}, on all
 * cores) against EJML's single-threaded and multi-threaded {@code mult}. GFLOP/s =
 * {@code 2 n^3 / time}; {@code tools/bench/foundation.sh} converts and tabulates.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class MatMulBench {
    @Param({"128", "512", "1024"})
    int n;

    Tensor a;
    Tensor b;
    DMatrixRMaj ea;
    DMatrixRMaj eb;
    DMatrixRMaj ec;

    @Setup
    public void setup() {
        Random rng = new Random(1);
        a = Init.normal(rng, 1, n, n);
        b = Init.normal(rng, 1, n, n);
        ea = DMatrixRMaj.wrap(n, n, a.data());
        eb = DMatrixRMaj.wrap(n, n, b.data());
        ec = new DMatrixRMaj(n, n);
    }

    @Benchmark
    public Tensor intactkv() {
        return MatMul.matmul(a, b);
    }

    @Benchmark
    public DMatrixRMaj ejmlMult() {
        CommonOps_DDRM.mult(ea, eb, ec);
        return ec;
    }

    @Benchmark
    public DMatrixRMaj ejmlMultMT() {
        CommonOps_MT_DDRM.mult(ea, eb, ec);
        return ec;
    }
}
