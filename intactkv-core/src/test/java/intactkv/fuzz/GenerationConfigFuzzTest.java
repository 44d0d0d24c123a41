package intactkv.fuzz;

import intactkv.model.text.GenerationConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * generation_config.json under {@link ParserFuzzTest}'s property: {@value ParserFuzzTest#CASES}
 * mutations of a valid file (Vicuna v1.5-like, every field the reader takes), each either read or
 * refused with a {@link intactkv.model.io.FormatException} naming the file and the field or
 * position; outcome counts in {@code target/reliability/generation_config.json.csv}.
 */
class GenerationConfigFuzzTest {
    @TempDir
    Path tmp;

    @Test
    void generationConfigJson() throws IOException {
        Path f = tmp.resolve(GenerationConfig.FILE);
        String valid = "{\"bos_token_id\": 1, \"do_sample\": true, \"eos_token_id\": [2, 3], \"max_new_tokens\": 64,"
                + " \"repetition_penalty\": 1.1, \"temperature\": 0.9, \"top_k\": 40, \"top_p\": 0.6,"
                + " \"transformers_version\": \"4.36.0\"}";
        Files.writeString(f, valid);
        GenerationConfig.read(tmp); // the valid file is valid
        ParserFuzzTest.fuzz(GenerationConfig.FILE, 121, r -> Mutator.json(valid, r), f, f.toString(),
                ParserFuzzTest.keys(valid), 0.25, p -> GenerationConfig.read(p.getParent()));
    }
}
