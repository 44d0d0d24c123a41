package intactkv.quant;

import intactkv.autograd.Value;
import intactkv.tensor.Shape;
import intactkv.tensor.Tensor;
import java.util.AbstractList;
import java.util.ArrayList;
import java.util.List;

/**
 * The recorded inputs of the decoder layer a quantizer works on, one tensor (1, T, d) per
 * calibration sequence, held as its {@link ActivationStore} says. A list of constant
 * {@link Value}s to its readers: under {@link ActivationStore#F64} the values added, as they are;
 * under {@link ActivationStore#F32} each is kept as a {@code float[]} (rounded to nearest) and
 * {@link #get} widens it to a fresh double tensor (exact) on every read, so only the element
 * being worked on exists in double.
 */
final class LayerInputs extends AbstractList<Value> {
    private final ActivationStore store;
    private final List<Value> doubles = new ArrayList<>();
    private final List<float[]> floats = new ArrayList<>();
    private final List<Shape> shapes = new ArrayList<>();

    LayerInputs(ActivationStore store) {
        this.store = store;
    }

    /** How the inputs are held. */
    ActivationStore store() {
        return store;
    }

    /** Records {@code x} (its data is read once, not modified). */
    @Override
    public boolean add(Value x) {
        if (store == ActivationStore.F64) {
            return doubles.add(x);
        }
        double[] d = x.data().data();
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) {
            f[i] = (float) d[i];
        }
        shapes.add(x.shape());
        return floats.add(f);
    }

    /** The shape of input {@code i}, without widening it. */
    Shape shape(int i) {
        return store == ActivationStore.F64 ? doubles.get(i).shape() : shapes.get(i);
    }

    /** Input {@code i}: the value added (F64), or its float copy widened to double (F32). */
    @Override
    public Value get(int i) {
        if (store == ActivationStore.F64) {
            return doubles.get(i);
        }
        float[] f = floats.get(i);
        double[] d = new double[f.length];
        for (int k = 0; k < f.length; k++) {
            d[k] = f[k];
        }
        return Value.constant(Tensor.wrap(d, shapes.get(i)));
    }

    @Override
    public int size() {
        return store == ActivationStore.F64 ? doubles.size() : floats.size();
    }
}
