package intactkv.figure;

/** One labelled tick of an axis or colour bar: the data value and the text drawn beside it. */
public record Tick(double value, String label) {
    public Tick {
        if (!Double.isFinite(value) || label == null) {
            throw new IllegalArgumentException("a tick needs a finite value and a label: " + value + ", " + label);
        }
    }
}
