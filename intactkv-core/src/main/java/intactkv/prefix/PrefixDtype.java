package intactkv.prefix;

import intactkv.tensor.ElementDtype;
import intactkv.tensor.HalfFloat;
import intactkv.tensor.Tensor;

/**
 * The storage precision of the trainable IntactKV prefix during calibration. Officially the
 * prefix is an fp16 {@code nn.ParameterList} ({@code intactkv/train_model.py::LlamaForPTQLoss}
 * casts it to the model's dtype, and {@code intactkv_train.py} turns every fp32/bf16 parameter
 * into fp16), so every optimizer step lands on an fp16 value and an update smaller than half the
 * fp16 spacing of an entry rounds away. {@link #F16} emulates that by rounding the prefix
 * (round to nearest, ties to even, {@link HalfFloat}) at the start and after every optimizer step;
 * {@link #F32} rounds to float; {@link #F64} keeps double.
 */
public enum PrefixDtype {
    F16(ElementDtype.F16), F32(ElementDtype.F32), F64(ElementDtype.F64);

    /** The number format (round to nearest, ties to even: Java's {@code (float)} cast for F32, HalfFloat for F16). */
    private final ElementDtype format;

    PrefixDtype(ElementDtype format) {
        this.format = format;
    }

    /** {@code x} in this precision: {@link ElementDtype#round} of the format of the same name. */
    public double round(double x) {
        return format.round(x);
    }

    /** Rounds every element of {@code t} in place (<em>modified</em>). */
    public void roundInPlace(Tensor t) {
        if (this == F64) {
            return;
        }
        double[] d = t.data();
        for (int i = 0; i < d.length; i++) {
            d[i] = round(d[i]);
        }
    }

    /** The value of {@code --prefix-dtype}: f16, f32 or f64 (case-insensitive); anything else is refused by name. */
    public static PrefixDtype parse(String flag) {
        if (flag != null) {
            switch (flag.toLowerCase(java.util.Locale.ROOT)) {
                case "f16":
                    return F16;
                case "f32":
                    return F32;
                case "f64":
                    return F64;
                default:
                    break;
            }
        }
        throw new IllegalArgumentException("--prefix-dtype must be f16, f32 or f64: " + flag);
    }

    /** The flag spelling: f16, f32, f64. */
    public String flag() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
