package intactkv.model.io;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Child program of {@link AtomicFilesTest}: starts writing an output folder as {@code quantize}
 * does (a registered temporary folder beside the target, a file inside it, and a file being
 * written by {@link AtomicFiles#write}), prints both temporary paths and "ready", then waits to
 * be killed.
 */
public final class TempHolderMain {
    private TempHolderMain() {
    }

    public static void main(String[] args) throws Exception {
        Path target = Path.of(args[0]);
        Path tmp = AtomicFiles.createTempDirectory(target);
        Files.writeString(tmp.resolve("model.safetensors"), "half a checkpoint");
        System.out.println(tmp);
        Path single = target.resolveSibling("single.txt");
        AtomicFiles.write(single, out -> {
            out.write('x');
            out.flush();
            System.out.println("ready");
            System.out.flush();
            try {
                Thread.sleep(120_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
    }
}
