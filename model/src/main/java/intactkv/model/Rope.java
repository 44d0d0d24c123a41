package intactkv.model;

import intactkv.tensor.Tensor;

/**
 * Rotary position embedding tables as Hugging Face's {@code LlamaRotaryEmbedding} (default
 * type): {@code inv_freq[i] = 1 / theta^(2i / d_h)} for i &lt; d_h/2, angle
 * {@code pos * inv_freq[i]}, and {@code cos}/{@code sin} of shape (T, d_h) with the half-size
 * table repeated twice ({@code emb = cat(freqs, freqs)}), to pair with {@code rotate_half}.
 * Computed in double (HF computes the angles in float32).
 */
public final class Rope {
    private final int headDim;
    private final double[] invFreq;

    public Rope(int headDim, double theta) {
        this(headDim, theta, null);
    }

    /** With LLaMA-3's frequency scaling ({@code scaling} null: none). */
    public Rope(int headDim, double theta, RopeScaling scaling) {
        this.headDim = headDim;
        double[] f = new double[headDim / 2];
        for (int i = 0; i < f.length; i++) {
            f[i] = 1.0 / Math.pow(theta, (double) (2 * i) / headDim);
        }
        this.invFreq = scaling == null ? f : scaling.apply(f);
    }

    /** The frequencies {@code inv_freq} (d_h / 2), scaled if the config asks for it. */
    public double[] invFreq() {
        return invFreq.clone();
    }

    /** cos (first) and sin (second) tables of shape (T, d_h) for positions {@code start..start+T-1}. */
    public Tensor[] tables(int start, int t) {
        Tensor cos = Tensor.zeros(t, headDim);
        Tensor sin = Tensor.zeros(t, headDim);
        double[] c = cos.data();
        double[] s = sin.data();
        int half = headDim / 2;
        for (int p = 0; p < t; p++) {
            for (int i = 0; i < half; i++) {
                double angle = (start + p) * invFreq[i];
                double ca = Math.cos(angle);
                double sa = Math.sin(angle);
                c[p * headDim + i] = ca;
                c[p * headDim + i + half] = ca;
                s[p * headDim + i] = sa;
                s[p * headDim + i + half] = sa;
            }
        }
        return new Tensor[] {cos, sin};
    }
}
