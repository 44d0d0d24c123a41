package intactkv.model;

/**
 * LLaMA-3's RoPE frequency scaling ({@code rope_scaling} with {@code rope_type: "llama3"}, as
 * Hugging Face's {@code modeling_rope_utils._compute_llama3_parameters}). With
 * {@code L = original_max_position_embeddings} and the wavelength {@code w = 2 pi / inv_freq}:
 * <pre>
 *   w &lt; L / high_freq_factor        inv_freq unchanged                  (high frequencies)
 *   w &gt; L / low_freq_factor         inv_freq / factor                   (low frequencies)
 *   otherwise                        (1 - s) inv_freq / factor + s inv_freq,
 *                                    s = (L / w - low_freq_factor) / (high_freq_factor - low_freq_factor)
 * </pre>
 */
public record RopeScaling(double factor, double lowFreqFactor, double highFreqFactor,
                          int originalMaxPositionEmbeddings) {
    public RopeScaling {
        if (!(factor > 0) || !(lowFreqFactor > 0) || !(highFreqFactor > lowFreqFactor)
                || originalMaxPositionEmbeddings < 1) {
            throw new IllegalArgumentException("rope_scaling: factor " + factor + " and low_freq_factor " + lowFreqFactor
                    + " must be > 0, high_freq_factor " + highFreqFactor + " > low_freq_factor, and"
                    + " original_max_position_embeddings " + originalMaxPositionEmbeddings + " >= 1");
        }
    }

    /** The scaled frequencies (a new array). */
    public double[] apply(double[] invFreq) {
        double lowWavelen = originalMaxPositionEmbeddings / lowFreqFactor;
        double highWavelen = originalMaxPositionEmbeddings / highFreqFactor;
        double[] out = new double[invFreq.length];
        for (int i = 0; i < invFreq.length; i++) {
            double wavelen = 2 * Math.PI / invFreq[i];
            double f = wavelen > lowWavelen ? invFreq[i] / factor : invFreq[i];
            if (!(wavelen < highWavelen) && !(wavelen > lowWavelen)) {
                double s = (originalMaxPositionEmbeddings / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
                f = (1 - s) * f / factor + s * f;
            }
            out[i] = f;
        }
        return out;
    }
}
