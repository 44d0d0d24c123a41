package intactkv.autograd;

import static intactkv.autograd.GradCheck.DEFAULT_TOLERANCE;
import static intactkv.autograd.GradCheck.assertGradients;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.integers;

import intactkv.tensor.Init;
import intactkv.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Property-based gradient checks (QuickTheories, fixed seeds): for every generated shape the
 * analytic gradient matches central differences, beyond the fixed shapes of the op tests.
 */
class GradientPropertiesTest {
    /** For all (B, M, K, N): the attention-style chain softmax(A B^T) C has correct gradients. */
    @Test
    void attentionChainGradientsForAllShapes() {
        qt().withFixedSeed(201).withExamples(25)
                .forAll(integers().between(1, 3), integers().between(1, 5), integers().between(1, 6),
                        integers().between(1, 4))
                .checkAssert((b, m, k, n) -> {
                    Random rng = new Random(1000L * b + 100L * m + 10L * k + n);
                    Tensor q = Init.normal(rng, 1, b, m, k);
                    Tensor kk = Init.normal(rng, 1, b, m + 1, k);
                    Tensor v = Init.normal(rng, 1, b, m + 1, n);
                    assertGradients("attention chain", in -> LinearAlgebra.matmul(
                            Functional.softmax(LinearAlgebra.matmulTransB(in[0], in[1]), -1), in[2]),
                            b + m + k + n, DEFAULT_TOLERANCE, q, kk, v);
                });
    }

    /** For all (T, d): RMSNorm followed by a linear layer has correct gradients. */
    @Test
    void normThenLinearGradientsForAllShapes() {
        qt().withFixedSeed(202).withExamples(25)
                .forAll(integers().between(1, 6), integers().between(1, 8), integers().between(1, 5))
                .checkAssert((t, d, out) -> {
                    Random rng = new Random(100L * t + 10L * d + out);
                    assertGradients("rmsNorm + linear", in -> LinearAlgebra.linear(
                            Functional.rmsNorm(in[0], in[1], 1e-5), in[2]), t + d, DEFAULT_TOLERANCE,
                            Init.normal(rng, 1, t, d), Init.normal(rng, 1, d), Init.normal(rng, 1, out, d));
                });
    }
}
