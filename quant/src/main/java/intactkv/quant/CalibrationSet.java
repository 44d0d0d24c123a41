package intactkv.quant;

import java.util.AbstractList;
import java.util.List;
import java.util.Objects;

/**
 * Calibration sequences together with how the quantizer is to hold their activations
 * ({@link ActivationStore}). It is a {@code List<int[]>} of the sequences, so it goes wherever a
 * calibration set goes ({@link ModelQuantizer}, {@link QuantizedModel#quantize}) and those signatures
 * stay as they are; {@link Gptq} (also QuaRot's GPTQ) and {@link Awq} read {@link #storeOf} from it. A
 * plain list of sequences means {@link ActivationStore#F64}.
 */
public final class CalibrationSet extends AbstractList<int[]> {
    private final List<int[]> sequences;
    private final ActivationStore activations;

    private CalibrationSet(List<int[]> sequences, ActivationStore activations) {
        this.sequences = List.copyOf(sequences);
        this.activations = Objects.requireNonNull(activations, "activations");
    }

    /** {@code sequences} (the list is copied, the arrays are not) whose activations are held as {@code activations}. */
    public static CalibrationSet of(List<int[]> sequences, ActivationStore activations) {
        return new CalibrationSet(sequences, activations);
    }

    /** How the quantizer holds this set's activations. */
    public ActivationStore activations() {
        return activations;
    }

    /** The store of {@code calib}: its own for a {@link CalibrationSet}, else {@link ActivationStore#F64}. */
    public static ActivationStore storeOf(List<int[]> calib) {
        return calib instanceof CalibrationSet c ? c.activations : ActivationStore.F64;
    }

    @Override
    public int[] get(int index) {
        return sequences.get(index);
    }

    @Override
    public int size() {
        return sequences.size();
    }
}
