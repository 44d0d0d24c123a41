package intactkv.cli;

import intactkv.tensor.ElementDtype;
import picocli.CommandLine.Option;

/**
 * {@code --kv-cache-dtype} of the generation commands ({@code generate}, {@code mtbench}, {@code gen-fidelity}, where
 * it applies to the full-precision reference too): the format the
 * generation's KV cache holds its keys and values in ({@link intactkv.model.text.Generator}). f64, the default, keeps
 * every number as before; f32 halves the cache, f16 and bf16 quarter it, each key and value rounded when written.
 * A 7B model's full-precision MT-Bench turn of 2217 positions holds 4.3 GB of cache in f64, 2.2 in f32.
 */
final class KvCacheOption {
    @Option(names = "--kv-cache-dtype", defaultValue = "f64", paramLabel = "D", description = "the format the KV"
            + " cache holds keys and values in: f64 (default, every number as computed), f32 (half the memory), f16"
            + " or bf16 (a quarter; the official code's cache is its fp16 model's): each rounded to nearest even when"
            + " written, the prompt's too, and IntactKV's prefix when copied in; attention widens them back exactly")
    String dtype;

    /**
     * What a run's closing line adds for the format: nothing for the default (f64), else {@code separator} and
     * {@code "KV cache F"} (F the format's id).
     */
    String note(String separator) {
        return dtype() == ElementDtype.F64 ? "" : separator + "KV cache " + dtype().id();
    }

    /** The parsed flag; anything but f64, f32, f16, bf16 is refused naming the flag and the value. */
    ElementDtype dtype() {
        try {
            return ElementDtype.parse(dtype);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--kv-cache-dtype " + e.getMessage(), e);
        }
    }
}
