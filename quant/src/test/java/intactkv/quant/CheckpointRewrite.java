package intactkv.quant;

import intactkv.model.io.CheckpointReader;
import intactkv.model.io.SafetensorsReader;
import intactkv.model.io.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Path;
import java.util.function.Consumer;

/** Test helper: damages one tensor of a checkpoint for the bad-input tests of its readers. */
final class CheckpointRewrite {
    private CheckpointRewrite() {
    }

    /**
     * Rewrites {@code dir/model.safetensors} with every tensor as it was, except {@code replaced},
     * which is dropped; {@code change} then puts what stands instead (or nothing).
     */
    static void rewrite(Path dir, String replaced, Consumer<SafetensorsWriter> change) throws IOException {
        Path file = dir.resolve(CheckpointReader.SINGLE);
        SafetensorsWriter w = new SafetensorsWriter();
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            for (String n : r.names()) {
                SafetensorsReader.Entry e = r.entry(n);
                if (n.equals(replaced)) {
                    continue;
                }
                if (e.dtype().isInteger()) {
                    w.putLongs(n, e.dtype(), r.readLongs(n), e.shape());
                } else {
                    w.put(n, e.dtype(), r.read(n));
                }
            }
        }
        change.accept(w);
        w.write(file);
    }
}
