package intactkv.cli;

import static intactkv.cli.BadInputTest.assertRefused;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.text.GenerationConfig;
import intactkv.model.text.Generator;
import intactkv.model.text.Sampler;
import intactkv.model.text.Tokenizer;
import intactkv.prefix.PrefixedModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 28, deliverable 2, on the command line: {@code generate} takes its defaults from the
 * model directory's generation_config.json as transformers does, the flags override it, its
 * eos_token_id list stops generation, and sampling-only flags are refused while greedy.
 */
class GenerateSamplingCommandTest {
    @TempDir
    static Path dir;
    static Path model;
    static LlamaWeights fp;
    static Tokenizer tok;
    static final String PROMPT = "a small domesticated";

    @BeforeAll
    static void copyModel() throws Exception {
        model = dir.resolve("model");
        Files.createDirectories(model);
        for (String f : new String[] {"config.json", "model.safetensors", "tokenizer.json"}) {
            Files.copy(IntactKvFidelityTest.MODEL.resolve(f), model.resolve(f));
        }
        fp = LlamaWeights.load(model, false);
        tok = Tokenizer.load(model.resolve("tokenizer.json"));
    }

    static String[] generate(String genConfig, String... more) throws Exception {
        if (genConfig == null) {
            Files.deleteIfExists(model.resolve(GenerationConfig.FILE));
        } else {
            Files.writeString(model.resolve(GenerationConfig.FILE), genConfig);
        }
        List<String> a = new ArrayList<>(List.of("generate", "--model", model.toString(), "--prompt", PROMPT));
        a.addAll(List.of(more));
        return BadInputTest.run(a.toArray(String[]::new));
    }

    /** The library's continuation with {@code g}, seed {@code seed}, eos ids {@code eos}, as the command prints it. */
    static String expected(GenerationConfig g, long seed, int n, int... eos) {
        Generator.Result r = new PrefixedModel(new LlamaModel(fp), null).generate(tok, tok.encode(PROMPT, true), n,
                new Sampler(g, seed), new Generator.Stop(eos, null), t -> { });
        return PROMPT + r.text() + System.lineSeparator();
    }

    @Test
    void generationConfigGivesTheDefaultsAndFlagsOverrideIt() throws Exception {
        String file = "{\"do_sample\": true, \"temperature\": 0.8, \"top_k\": 20, \"top_p\": 0.9,"
                + " \"repetition_penalty\": 1.3, \"max_new_tokens\": 7}";
        GenerationConfig g = new GenerationConfig(true, 0.8, 20, 0.9, 1.3, new int[0], 7);
        String[] r = generate(file);
        assertEquals("0", r[0], r[2]);
        assertEquals(expected(g, 42, 7), r[1], "the file's settings, its max_new_tokens, seed 42");
        assertTrue(r[2].contains("stopped at max-tokens; sample temperature 0.8, top-k 20, top-p 0.9, repetition penalty"
                + " 1.3, seed 42]"), r[2]);
        // flags override the file
        r = generate(file, "--top-k", "3", "--seed", "5", "--max-tokens", "9");
        assertEquals("0", r[0], r[2]);
        assertEquals(expected(g.withTopK(3), 5, 9), r[1]);
        r = generate(file, "--temperature", "0");
        assertEquals("0", r[0], r[2]);
        assertEquals(expected(g.withTemperature(0), 0, 7), r[1], "--temperature 0: greedy, the file's penalty still applies");
        // without the file: transformers' defaults, greedy; --temperature samples with its top-k 50
        r = generate(null, "--max-tokens", "8");
        assertEquals(expected(GenerationConfig.defaults(), 0, 8), r[1]);
        r = generate(null, "--max-tokens", "8", "--temperature", "1.5", "--seed", "3");
        assertEquals(expected(GenerationConfig.defaults().withDoSample(true).withTemperature(1.5), 3, 8), r[1]);
        assertNotEquals(expected(GenerationConfig.defaults().withDoSample(true).withTemperature(1.5).withTopK(0), 3, 8),
                r[1], "top-k 50 is applied (without it the draws differ on this prompt and seed)");
    }

    /** eos_token_id as a list: generation stops at any of its ids (here the first greedy token: nothing is written). */
    @Test
    void eosListOfTheFileStopsGeneration() throws Exception {
        int first = new PrefixedModel(new LlamaModel(fp), null).generate(tok, tok.encode(PROMPT, true), 1,
                Sampler.greedy(), t -> { }).tokens()[0];
        String[] r = generate("{\"eos_token_id\": [999, " + first + "]}", "--max-tokens", "5");
        assertEquals("0", r[0], r[2]);
        assertEquals(PROMPT + System.lineSeparator(), r[1]);
        assertTrue(r[2].contains("[0 tokens, stopped at eos]"), r[2]);
    }

    @Test
    void badSettingsAreRefusedBeforeTheModelLoads() throws Exception {
        assertRefused(generate("{\"top_k\": \"20\"}"), model.resolve(GenerationConfig.FILE) + ": field 'top_k' must be"
                + " an integer");
        assertRefused(generate(null, "--top-k", "5"), "--top-k has no effect at --temperature 0 or without sampling",
                "do_sample is off");
        assertRefused(generate("{\"do_sample\": true, \"temperature\": 0}", "--seed", "5"), "--seed has no effect",
                "the temperature is 0");
        assertRefused(generate(null, "--temperature", "1", "--top-p", "1.5"), "--top-p must be in (0, 1]: 1.5");
        assertRefused(generate(null, "--temperature", "1", "--top-k", "-1"), "--top-k must be >= 0");
        assertRefused(generate(null, "--repetition-penalty", "0"), "--repetition-penalty must be > 0");
        assertRefused(generate(null, "--do-sample", "--temperature", "0"), "--do-sample contradicts --temperature 0");
        assertRefused(generate("{\"max_new_tokens\": 100000}"), GenerationConfig.FILE + "'s max_new_tokens 100000 is"
                + " longer than the model's max_position_embeddings");
    }
}
