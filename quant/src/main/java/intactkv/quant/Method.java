package intactkv.quant;

import java.util.Locale;

/** The weight quantization methods. */
public enum Method {
    /** Full precision weights (activation or KV quantization may still be on). */
    NONE,
    /** Round to nearest per group ({@link WeightQuantizer}). */
    RTN,
    /** GPTQ ({@link Gptq}). */
    GPTQ,
    /** AWQ: activation-aware scaling and clipping, then RTN ({@link Awq}). */
    AWQ,
    /** OmniQuant-style learnable weight clipping ({@link OmniQuantLwc}). */
    OMNIQUANT,
    /** QuaRot: rotation, then GPTQ weights and 4-bit activations and KV ({@link QuaRot}). */
    QUAROT,
    /** llama.cpp's quantization types, a {@link GgufMix} per model ({@link GgufQuantizer}). */
    GGUF;

    /** Parses a lower- or upper-case name, naming the valid ones on error. */
    public static Method parse(String s) {
        try {
            return valueOf(s.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown quantization method '" + s
                    + "' (one of none, rtn, gptq, awq, omniquant, quarot, gguf)", e);
        }
    }

    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Whether the method needs calibration data. */
    public boolean needsCalibration() {
        return this == GPTQ || this == AWQ || this == OMNIQUANT || this == QUAROT;
    }
}
