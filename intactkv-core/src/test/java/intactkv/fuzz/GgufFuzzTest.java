package intactkv.fuzz;

import intactkv.model.LlamaWeights;
import intactkv.model.gguf.GgufFile;
import intactkv.model.text.GgufVocab;
import intactkv.model.text.Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The GGUF reader against {@value ParserFuzzTest#CASES} mutations each of two committed fixtures
 * of tools/oracle/gguf_fixtures.py (the mixed-type test model, and the built-in tokenizer's
 * vocabulary), by {@link ParserFuzzTest#fuzz}'s property: each case loads (weights dequantized
 * and checked, vocabulary built and text encoded) or is refused with a {@code FormatException}
 * that starts with the file and names a key, tensor or byte position; anything else fails. Half
 * of the mutations hit the whole file, half only the header (metadata and tensor infos, where the
 * lengths, counts, types, dimensions and offsets are), so that most do not land in tensor data.
 */
class GgufFuzzTest {
    @TempDir
    static Path tmp;

    static final Path FIXTURES = Path.of("..", "model", "src", "test", "resources", "oracle", "gguf");

    /** Byte-level mutations of the whole file or, every other case, of its header only. */
    static Mutator.Case mutate(byte[] valid, int header, Random r) {
        if (r.nextBoolean()) {
            return Mutator.bytes(valid, r);
        }
        Mutator.Case h = Mutator.bytes(Arrays.copyOf(valid, header), r);
        byte[] b = Arrays.copyOf(h.bytes(), h.bytes().length + valid.length - header);
        System.arraycopy(valid, header, b, h.bytes().length, valid.length - header);
        return new Mutator.Case(b, "header " + h.what());
    }

    static Set<String> names(Path file) throws IOException {
        Set<String> names = new HashSet<>();
        try (GgufFile f = GgufFile.open(file)) {
            for (String k : f.metadata().keySet()) {
                names.add("'" + k + "'");
            }
            for (GgufFile.TensorInfo t : f.tensors()) {
                names.add("'" + t.name() + "'");
            }
            return names;
        }
    }

    static int header(Path file) throws IOException {
        try (GgufFile f = GgufFile.open(file)) {
            return (int) f.dataStart();
        }
    }

    @Test
    void ggufModel() throws IOException {
        Path valid = FIXTURES.resolve("gqa_mixed.gguf");
        byte[] bytes = Files.readAllBytes(valid);
        int header = header(valid);
        Path file = tmp.resolve("model.gguf");
        ParserFuzzTest.fuzz("gguf-model", 110, r -> mutate(bytes, header, r), file, file.toString(), names(valid),
                0.3, f -> {
                    LlamaWeights w = LlamaWeights.load(f, false); // the hook --model uses (a *.gguf file)
                    Tokenizer tok = GgufVocab.load(f);
                    if (w.config().vocabSize() != tok.vocabSize()) {
                        throw new AssertionError("config and vocabulary disagree");
                    }
                });
    }

    @Test
    void ggufVocabulary() throws IOException {
        Path valid = FIXTURES.resolve("vocab_spm.gguf");
        byte[] bytes = Files.readAllBytes(valid);
        int header = header(valid);
        Path file = tmp.resolve("vocab.gguf");
        ParserFuzzTest.fuzz("gguf-vocab", 111, r -> mutate(bytes, header, r), file, file.toString(), names(valid),
                0.3, f -> {
                    Tokenizer tok = GgufVocab.load(f);
                    int[] ids = tok.encode("the cat sat on the mat, caf\u00e9 \u4e2d 42", false);
                    tok.decode(ids);
                });
    }
}
