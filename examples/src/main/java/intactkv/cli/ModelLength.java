package intactkv.cli;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import intactkv.model.LlamaConfig;
import intactkv.model.io.AtomicFiles;
import intactkv.model.io.JsonFields;
import intactkv.model.io.JsonFile;
import java.io.IOException;
import java.nio.file.Path;

/**
 * Sequence lengths that follow the model: the default of a window-length flag, and the one check
 * of every length flag against {@code max_position_embeddings}, made before any work.
 *
 * <p>A model works within the length it was trained at: positions beyond it have never been
 * seen, and perplexity there measures extrapolation, not the model (the built-in model, trained
 * at 256-token windows, on the first 300 test glosses: ppl 35.45 in windows of 256, 181.49 in
 * windows of 2048). {@code max_position_embeddings}
 * is the wrong default for a model of {@code ./intactkv train}: it is 2048 for the built-in model,
 * kept so that the official calibration lengths, which are lowered to it, stay as they are. So
 * {@code ./intactkv train} records its training length in config.json as {@link #TRAIN_SEQLEN}
 * (a key Hugging Face ignores), and a window defaults to it; a checkpoint without it (a real
 * LLaMA) defaults to {@code min(2048, max_position_embeddings)}, 2048 being the paper's
 * evaluation length.
 */
final class ModelLength {
    /** The config.json key with the window length a model of {@code ./intactkv train} was trained at. */
    static final String TRAIN_SEQLEN = "intactkv_train_seqlen";
    /** The paper's perplexity window (official {@code eval_utils/ppl.py}). */
    static final int PAPER_SEQLEN = 2048;
    /** What --help says the window defaults to. */
    static final String DEFAULT_HELP = "the model's length: the length it was trained at for a model of './intactkv"
            + " train' (config.json's " + TRAIN_SEQLEN + ", 256 for the built-in model), else min(" + PAPER_SEQLEN
            + ", max_position_embeddings)";

    private ModelLength() {
    }

    /** The default window of the model in {@code dir} (see the class comment). */
    static int defaultWindow(Path dir) throws IOException {
        Path file = dir.resolve("config.json");
        LlamaConfig c = LlamaConfig.read(file);
        if (intactkv.model.gguf.GgufFile.isGguf(dir)) { // a GGUF file records no training window
            return Math.min(PAPER_SEQLEN, c.maxPositionEmbeddings());
        }
        JsonFields o = JsonFile.read(file);
        if (o.has(TRAIN_SEQLEN)) {
            return Math.min(o.integer(TRAIN_SEQLEN, null, 2, Integer.MAX_VALUE), c.maxPositionEmbeddings());
        }
        return Math.min(PAPER_SEQLEN, c.maxPositionEmbeddings());
    }

    /**
     * Refuses a run of {@code positions} positions on a model of config {@code c} when it exceeds
     * max_position_embeddings: RoPE is defined beyond it, but the model was never trained there
     * (and the KV cache is sized by it). {@code what} names the flags and values that make the
     * length, e.g. {@code --seqlen 4096}.
     */
    static void require(String what, long positions, LlamaConfig c) {
        if (positions > c.maxPositionEmbeddings()) {
            throw new IllegalArgumentException(what + " is longer than the model's max_position_embeddings "
                    + c.maxPositionEmbeddings() + " (config.json; " + positions + " positions asked); use a smaller"
                    + " value");
        }
    }

    /**
     * An official length flag's value: {@code flag}'s explicit value, checked by {@link #require},
     * or {@code official} lowered to max_position_embeddings (the official lengths are LLaMA's
     * context; a model with fewer positions gets its own).
     */
    static int officialOrModel(String flag, Integer value, int official, LlamaConfig c) {
        if (value != null) {
            require(flag + " " + value, value, c);
            return value;
        }
        return Math.min(official, c.maxPositionEmbeddings());
    }

    /** Records the training window {@code seqlen} in {@code dir/config.json} (atomically). */
    static void recordTrainSeqlen(Path dir, int seqlen) throws IOException {
        Path file = dir.resolve("config.json");
        JsonFile.read(file); // strict check; Gson's tree below keeps the numbers as written (1.0E-5 stays 1.0E-5)
        JsonObject o = com.google.gson.JsonParser.parseString(java.nio.file.Files.readString(file)).getAsJsonObject();
        o.addProperty(TRAIN_SEQLEN, seqlen);
        AtomicFiles.writeString(file, new GsonBuilder().setPrettyPrinting().create().toJson(o) + "\n");
    }
}
