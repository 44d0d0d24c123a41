package intactkv.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.dense.row.factory.LinearSolverFactory_DDRM;
import org.ejml.interfaces.decomposition.CholeskyDecomposition_F64;
import org.ejml.interfaces.decomposition.QRDecomposition;
import org.ejml.interfaces.linsol.LinearSolverDense;
import org.junit.jupiter.api.Test;

/**
 * {@link HessianFactor} against two independent oracles: EJML's path (Cholesky, inverse, Cholesky
 * of the inverse: what GPTQ ran before) and the defining identities of U (upper-triangular,
 * positive diagonal, {@code U^T U = H^-1}, checked as {@code U H U^T = I}).
 *
 * <p>Test matrices {@code H = Q diag(lambda) Q^T} have a known 2-norm condition number
 * {@code kappa = lambda_max / lambda_min} (Q orthogonal from the QR of a Gaussian matrix, eigenvalues
 * log-spaced in [1, kappa]), so the tolerances follow from n, eps and kappa (see each test), not from
 * trial. Sizes 1..700 include non-multiples of the block {@link HessianFactor#NB} = 128 and sizes that
 * take one, two and three levels of the recursive inverse.
 */
class HessianFactorTest {
    private static final double EPS = Math.ulp(1.0);
    private static final int[] SIZES = {1, 2, 3, 17, 127, 128, 129, 255, 256, 385, 700};

    /**
     * Relative Frobenius difference to EJML's U. Bound: H's Cholesky factor M is computed with a backward
     * error {@code ||dH||_2 <= n (n + 1) eps ||H||_2} (Higham, Accuracy and Stability, Thm 10.3, with
     * {@code || |M| |M^T| ||_2 <= n ||H||_2}); a Cholesky factor's relative forward error is at most
     * kappa(H) times the relative backward error (Sun 1991, up to a factor 1/sqrt 2), and inverting the
     * triangular M multiplies a relative error by at most kappa(M) = sqrt(kappa(H)). Both paths are of
     * this kind, so their U's differ by at most {@code 2 n (n + 1) eps kappa^1.5} relatively (the
     * triangular inverse's own rounding, {@code O(n eps kappa(M))}, is below that term).
     */
    @Test
    void agreesWithEjmlWithinTheConditionBound() {
        Random rnd = new Random(27);
        for (int n : SIZES) {
            for (double kappa : n < 300 ? new double[] {1e1, 1e3} : new double[] {1e3}) {
                double[] h = spd(n, kappa, rnd);
                double[] expected = ejml(h, n);
                double[] u = HessianFactor.upperCholeskyOfInverse(h, n, "l");
                double diff = 0;
                double norm = 0;
                for (int k = 0; k < u.length; k++) {
                    diff += (u[k] - expected[k]) * (u[k] - expected[k]);
                    norm += expected[k] * expected[k];
                }
                double rel = Math.sqrt(diff / norm);
                double bound = 2.0 * n * (n + 1) * EPS * Math.pow(kappa, 1.5);
                assertTrue(rel <= bound, "n " + n + ", kappa " + kappa + ": relative difference " + rel + " > " + bound);
            }
        }
    }

    /**
     * U is upper-triangular with a positive diagonal and {@code U H U^T = I} (equivalent to
     * {@code U^T U = H^-1}). With {@code U = M^-1 + dU} and {@code M M^T = H + dH}:
     * {@code U H U^T - I = -M^-1 dH M^-T + O(dU)}, of 2-norm at most
     * {@code ||dH||_2 / lambda_min <= n (n + 1) eps kappa} for the factorization and as much again for the
     * triangular inverse ({@code |X M - I| <= c n eps |X| |M|}, Higham Sec. 14.2); the max-abs entry is
     * below the 2-norm, so the bound is {@code 2 n (n + 1) eps kappa}.
     */
    @Test
    void satisfiesTheDefiningIdentities() {
        Random rnd = new Random(28);
        for (int n : new int[] {1, 17, 129, 385, 700}) {
            double kappa = 1e3;
            double[] h = spd(n, kappa, rnd);
            double[] u = HessianFactor.upperCholeskyOfInverse(h, n, "l");
            for (int i = 0; i < n; i++) {
                assertTrue(u[i * n + i] > 0, "n " + n + ": U[" + i + "," + i + "] = " + u[i * n + i]);
                for (int j = 0; j < i; j++) {
                    assertEquals(0.0, u[i * n + j], "n " + n + ": U[" + i + "," + j + "] below the diagonal");
                }
            }
            DMatrixRMaj um = DMatrixRMaj.wrap(n, n, u);
            DMatrixRMaj uh = new DMatrixRMaj(n, n);
            CommonOps_DDRM.mult(um, DMatrixRMaj.wrap(n, n, h), uh);
            DMatrixRMaj uhu = new DMatrixRMaj(n, n);
            CommonOps_DDRM.multTransB(uh, um, uhu);
            double worst = 0;
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    worst = Math.max(worst, Math.abs(uhu.get(i, j) - (i == j ? 1 : 0)));
                }
            }
            double bound = 2.0 * n * (n + 1) * EPS * kappa;
            assertTrue(worst <= bound, "n " + n + ": max |U H U^T - I| = " + worst + " > " + bound);
        }
    }

    /**
     * The exchange identity itself, on its own: with {@code J H J = L L^T}, {@code J L^-1 J} equals the
     * upper Cholesky factor of EJML's explicit inverse of H; tolerance as in
     * {@link #agreesWithEjmlWithinTheConditionBound}.
     */
    @Test
    void exchangeIdentityMatchesTheFactorOfTheExplicitInverse() {
        Random rnd = new Random(29);
        int n = 9;
        double kappa = 10;
        double[] h = spd(n, kappa, rnd);
        double[] jhj = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                jhj[i * n + j] = h[(n - 1 - i) * n + (n - 1 - j)];
            }
        }
        assertTrue(HessianFactor.choleskyLower(jhj, n));
        double[] x = HessianFactor.invertLower(jhj, n);
        DMatrixRMaj inv = new DMatrixRMaj(n, n);
        CommonOps_DDRM.invert(DMatrixRMaj.wrap(n, n, h.clone()), inv);
        CholeskyDecomposition_F64<DMatrixRMaj> upper = DecompositionFactory_DDRM.chol(n, false);
        assertTrue(upper.decompose(inv));
        DMatrixRMaj u = upper.getT(null);
        double bound = 2.0 * n * (n + 1) * EPS * Math.pow(kappa, 1.5) * CommonOps_DDRM.elementMaxAbs(u);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                double jxj = x[(n - 1 - i) * n + (n - 1 - j)];
                assertEquals(u.get(i, j), jxj, bound, "(" + i + ", " + j + ")");
            }
        }
    }

    /** The blocked Cholesky against EJML's on a size with a partial last block: relative, kappa-scaled as above. */
    @Test
    void blockedCholeskyMatchesEjml() {
        Random rnd = new Random(30);
        int n = 333;
        double kappa = 1e2;
        double[] h = spd(n, kappa, rnd);
        double[] l = h.clone();
        assertTrue(HessianFactor.choleskyLower(l, n));
        CholeskyDecomposition_F64<DMatrixRMaj> chol = DecompositionFactory_DDRM.chol(n, true);
        assertTrue(chol.decompose(DMatrixRMaj.wrap(n, n, h.clone())));
        DMatrixRMaj expected = chol.getT(null);
        double worst = 0;
        for (int k = 0; k < l.length; k++) {
            worst = Math.max(worst, Math.abs(l[k] - expected.getData()[k]));
        }
        // ||dL|| <= kappa * n (n + 1) eps ||L|| (Sun's bound on the backward error above), twice for two paths
        double bound = 2.0 * n * (n + 1) * EPS * kappa * CommonOps_DDRM.elementMaxAbs(expected);
        assertTrue(worst <= bound, "max |L - L_ejml| = " + worst + " > " + bound);
    }

    /** Not positive definite (a negative eigenvalue, a NaN) is refused naming the layer, as before. */
    @Test
    void refusesAnIndefiniteHessianNamingTheLayer() {
        Random rnd = new Random(31);
        int n = 200;
        double[] h = spd(n, 10, rnd);
        for (int i = 0; i < n; i++) {
            h[i * n + i] -= 20; // every eigenvalue was in [1, 10]: now all negative
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> HessianFactor.upperCholeskyOfInverse(h, n, "model.layers.3.mlp.down_proj"));
        assertEquals("model.layers.3.mlp.down_proj: the damped Hessian is not positive definite", e.getMessage());
        double[] nan = spd(n, 10, rnd);
        nan[150 * n + 150] = Double.NaN;
        assertThrows(IllegalArgumentException.class, () -> HessianFactor.upperCholeskyOfInverse(nan, n, "l"));
        // an indefinite trailing block, reached only after a full block was factored
        double[] late = spd(n, 10, rnd);
        late[199 * n + 199] = -1e3;
        assertThrows(IllegalArgumentException.class, () -> HessianFactor.upperCholeskyOfInverse(late, n, "l"));
    }

    /**
     * What GPTQ computed before (commit 305b4f7), with EJML: {@code chol(chol_inverse(chol(H)), upper)} as
     * gptq.py writes it: a Cholesky solver's inverse of H, then the upper Cholesky factor of that inverse.
     */
    static double[] ejml(double[] h, int n) {
        LinearSolverDense<DMatrixRMaj> solver = LinearSolverFactory_DDRM.chol(n);
        assertTrue(solver.setA(DMatrixRMaj.wrap(n, n, h.clone())));
        DMatrixRMaj inv = new DMatrixRMaj(n, n);
        solver.invert(inv);
        CholeskyDecomposition_F64<DMatrixRMaj> upper = DecompositionFactory_DDRM.chol(n, false);
        assertTrue(upper.decompose(inv));
        return upper.getT(null).getData();
    }

    /** {@code Q diag(lambda) Q^T}, lambda log-spaced in [1, kappa], Q orthogonal; symmetric exactly. */
    static double[] spd(int n, double kappa, Random rnd) {
        DMatrixRMaj g = new DMatrixRMaj(n, n);
        for (int k = 0; k < n * n; k++) {
            g.data[k] = rnd.nextGaussian();
        }
        QRDecomposition<DMatrixRMaj> qr = DecompositionFactory_DDRM.qr(n, n);
        qr.decompose(g);
        DMatrixRMaj q = qr.getQ(null, false);
        DMatrixRMaj qd = q.copy();
        for (int j = 0; j < n; j++) {
            double lambda = n == 1 ? 1 : Math.pow(kappa, (double) j / (n - 1));
            for (int i = 0; i < n; i++) {
                qd.set(i, j, qd.get(i, j) * lambda);
            }
        }
        DMatrixRMaj h = new DMatrixRMaj(n, n);
        CommonOps_DDRM.multTransB(qd, q, h);
        double[] d = h.getData();
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < i; j++) {
                d[j * n + i] = d[i * n + j];
            }
        }
        return d;
    }
}
