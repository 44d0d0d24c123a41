package intactkv.quant;

import intactkv.autograd.Value;
import intactkv.model.ModelHooks;

/**
 * The run-time part of a quantized model: per-token fake quantization of the input of every
 * decoder linear layer, and per-(token, head) fake quantization of the newly computed keys
 * (after RoPE) and values. Keys and values passed in as past (an IntactKV prefix) are not
 * touched, because the model applies these hooks before concatenating the past. The LM head
 * is outside the decoder layers and stays in full precision.
 */
public class QuantHooks implements ModelHooks {
    private final DynamicQuantizer activation;
    private final DynamicQuantizer kv;

    public QuantHooks(DynamicQuantizer activation, DynamicQuantizer kv) {
        this.activation = activation;
        this.kv = kv;
    }

    /** The hooks of {@code config}, or {@link ModelHooks#NONE} when nothing is quantized at run time. */
    public static ModelHooks of(QuantConfig config) {
        if (!config.activation().enabled() && !config.kv().enabled()) {
            return ModelHooks.NONE;
        }
        return new QuantHooks(config.activation(), config.kv());
    }

    @Override
    public Value linearInput(int layer, String name, Value x) {
        return activation.apply(x);
    }

    @Override
    public Value newKeys(int layer, Value k) {
        return kv.apply(k);
    }

    @Override
    public Value newValues(int layer, Value v) {
        return kv.apply(v);
    }
}
