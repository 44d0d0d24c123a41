package intactkv.model.gguf;

import static intactkv.model.gguf.GgmlFloats.nearestInt;

/**
 * The scale searches of ggml's k-quants, ported operation by operation in float32 (every C float
 * expression is the same float expression here, in the same order, so each comparison between
 * candidate scales decides as in C). Each works on {@code n} values {@code x[xOff..xOff+n)} and
 * writes their codes into {@code L[lOff..lOff+n)} (modified); {@code x} is not modified.
 *
 * <p>Reference: ggml/src/ggml-quants.c {@code make_qx_quants}, {@code make_q3_quants},
 * {@code make_qkx2_quants}.
 */
final class KQuantSearch {
    /** ggml's {@code GROUP_MAX_EPS}: a group whose largest |x| is below it is all zero. */
    static final float GROUP_MAX_EPS = 1e-15f;

    private KQuantSearch() {
    }

    /**
     * {@code make_qx_quants} with {@code rmse_type} 1 and no importance weights (the only use
     * without an imatrix, Q6_K): symmetric codes {@code l in [-nmax, nmax-1]} stored as
     * {@code l + nmax}; the scale is the weighted least-squares fit {@code sum w x l / sum w l^2}
     * with {@code w = x^2}, tried at the 19 inverse scales {@code -(nmax + 0.1 is) / max},
     * {@code is in [-9, 9]}, keeping the one with the largest {@code (sum w x l)^2 / sum w l^2}.
     * A group with {@code max |x| < GROUP_MAX_EPS} gets codes 0 and scale 0.
     *
     * @return the scale d (the value of code {@code L - nmax} is {@code d * (L - nmax)})
     */
    static float makeQxQuants(int n, int nmax, float[] x, int xOff, byte[] L, int lOff) {
        float max = GgmlFloats.signedAbsMax(x, xOff, n);
        if (Math.abs(max) < GROUP_MAX_EPS) {
            for (int i = 0; i < n; ++i) {
                L[lOff + i] = 0;
            }
            return 0.f;
        }
        float iscale = -nmax / max;
        float sumlx = 0;
        float suml2 = 0;
        for (int i = 0; i < n; ++i) {
            float xi = x[xOff + i];
            int l = nearestInt(iscale * xi);
            l = Math.max(-nmax, Math.min(nmax - 1, l));
            L[lOff + i] = (byte) (l + nmax);
            float w = xi * xi;
            sumlx += w * xi * l;
            suml2 += w * l * l;
        }
        float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
        float best = scale * sumlx;
        for (int is = -9; is <= 9; ++is) {
            if (is == 0) {
                continue;
            }
            iscale = -(nmax + 0.1f * is) / max;
            sumlx = 0;
            suml2 = 0;
            for (int i = 0; i < n; ++i) {
                float xi = x[xOff + i];
                int l = nearestInt(iscale * xi);
                l = Math.max(-nmax, Math.min(nmax - 1, l));
                float w = xi * xi;
                sumlx += w * xi * l;
                suml2 += w * l * l;
            }
            if (suml2 > 0 && sumlx * sumlx > best * suml2) {
                for (int i = 0; i < n; ++i) {
                    int l = nearestInt(iscale * x[xOff + i]);
                    L[lOff + i] = (byte) (nmax + Math.max(-nmax, Math.min(nmax - 1, l)));
                }
                scale = sumlx / suml2;
                best = scale * sumlx;
            }
        }
        return scale;
    }

    /**
     * {@code make_q3_quants} with {@code do_rmse} (Q3_K): codes {@code l in [-nmax, nmax-1]} from
     * the inverse scale {@code -nmax / max}, then up to 5 sweeps of coordinate descent, each code
     * re-chosen as {@code nearest(x * sum_l2 / sum_lx)} of the others' sums and kept when it
     * raises {@code (sum w x l)^2 / sum w l^2} ({@code w = x^2}); codes stored as {@code l + nmax}.
     *
     * @return the least-squares scale {@code sum w x l / sum w l^2} (0 for an all-zero group)
     */
    static float makeQ3Quants(int n, int nmax, float[] x, int xOff, byte[] L, int lOff) {
        float max = GgmlFloats.signedAbsMax(x, xOff, n);
        if (Math.abs(max) < GROUP_MAX_EPS) {
            for (int i = 0; i < n; ++i) {
                L[lOff + i] = 0;
            }
            return 0.f;
        }
        float iscale = -nmax / max;
        float sumlx = 0;
        float suml2 = 0;
        for (int i = 0; i < n; ++i) {
            float xi = x[xOff + i];
            int l = nearestInt(iscale * xi);
            l = Math.max(-nmax, Math.min(nmax - 1, l));
            L[lOff + i] = (byte) l;
            float w = xi * xi;
            sumlx += w * xi * l;
            suml2 += w * l * l;
        }
        for (int itry = 0; itry < 5; ++itry) {
            int nChanged = 0;
            for (int i = 0; i < n; ++i) {
                float xi = x[xOff + i];
                float w = xi * xi;
                int li = L[lOff + i];
                float slx = sumlx - w * xi * li;
                if (slx > 0) {
                    float sl2 = suml2 - w * li * li;
                    int newL = nearestInt(xi * sl2 / slx);
                    newL = Math.max(-nmax, Math.min(nmax - 1, newL));
                    if (newL != li) {
                        slx += w * xi * newL;
                        sl2 += w * newL * newL;
                        if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                            L[lOff + i] = (byte) newL;
                            sumlx = slx;
                            suml2 = sl2;
                            ++nChanged;
                        }
                    }
                }
            }
            if (nChanged == 0) {
                break;
            }
        }
        for (int i = 0; i < n; ++i) {
            L[lOff + i] += (byte) nmax;
        }
        return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
    }

    /**
     * {@code make_qkx2_quants}: asymmetric codes {@code l in [0, nmax]} with a minimum,
     * {@code x ~ scale * l - theMin}. Starts from {@code min = min(0, min x)},
     * {@code scale = (max - min) / nmax} and its weighted error; then for
     * {@code is in [0, nstep]} the inverse scale {@code (rmin + rdelta is + nmax) / (max - min)}
     * gives codes whose weighted least-squares (scale, min) (min clamped to at most 0) replaces
     * the best when its weighted error (|diff| when {@code useMad}, else diff^2) is smaller.
     *
     * @param w       the weights, {@code w[wOff..wOff+n)} (not modified)
     * @param theMin  {@code theMin[mOff]} receives {@code -min} (a non-negative offset)
     * @param laux    scratch of at least {@code n} codes (modified)
     * @return the scale
     */
    static float makeQkx2Quants(int n, int nmax, float[] x, int xOff, float[] w, int wOff, byte[] L, int lOff,
                                float[] theMin, int mOff, byte[] laux, float rmin, float rdelta, int nstep,
                                boolean useMad) {
        float min = x[xOff];
        float max = x[xOff];
        float sumW = w[wOff];
        float sumX = sumW * x[xOff];
        for (int i = 1; i < n; ++i) {
            float xi = x[xOff + i];
            if (xi < min) {
                min = xi;
            }
            if (xi > max) {
                max = xi;
            }
            float wi = w[wOff + i];
            sumW += wi;
            sumX += wi * xi;
        }
        if (min > 0) {
            min = 0;
        }
        if (max == min) {
            for (int i = 0; i < n; ++i) {
                L[lOff + i] = 0;
            }
            theMin[mOff] = -min;
            return 0.f;
        }
        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestError = 0;
        for (int i = 0; i < n; ++i) {
            int l = nearestInt(iscale * (x[xOff + i] - min));
            int li = Math.max(0, Math.min(nmax, l));
            L[lOff + i] = (byte) li;
            float diff = scale * li + min - x[xOff + i];
            diff = useMad ? Math.abs(diff) : diff * diff;
            bestError += w[wOff + i] * diff;
        }
        if (nstep < 1) {
            theMin[mOff] = -min;
            return scale;
        }
        for (int is = 0; is <= nstep; ++is) {
            iscale = (rmin + rdelta * is + nmax) / (max - min);
            float sumL = 0;
            float sumL2 = 0;
            float sumXl = 0;
            for (int i = 0; i < n; ++i) {
                int l = nearestInt(iscale * (x[xOff + i] - min));
                l = Math.max(0, Math.min(nmax, l));
                laux[i] = (byte) l;
                float wi = w[wOff + i];
                sumL += wi * l;
                sumL2 += wi * l * l;
                sumXl += wi * l * x[xOff + i];
            }
            float d = sumW * sumL2 - sumL * sumL;
            if (d > 0) {
                float thisScale = (sumW * sumXl - sumX * sumL) / d;
                float thisMin = (sumL2 * sumX - sumL * sumXl) / d;
                if (thisMin > 0) {
                    thisMin = 0;
                    thisScale = sumXl / sumL2;
                }
                float curError = 0;
                for (int i = 0; i < n; ++i) {
                    float diff = thisScale * (laux[i] & 0xFF) + thisMin - x[xOff + i];
                    diff = useMad ? Math.abs(diff) : diff * diff;
                    curError += w[wOff + i] * diff;
                }
                if (curError < bestError) {
                    System.arraycopy(laux, 0, L, lOff, n);
                    bestError = curError;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }
        theMin[mOff] = -min;
        return scale;
    }
}
