package intactkv.model.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.model.io.FormatException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** generation_config.json read as transformers 4.36.0 reads it: defaults, nulls, eos int or list, wrong types refused by field. */
class GenerationConfigTest {
    @TempDir
    Path dir;

    private GenerationConfig read(String json) throws Exception {
        Files.writeString(dir.resolve(GenerationConfig.FILE), json);
        return GenerationConfig.read(dir);
    }

    @Test
    void absentFileGivesTransformersDefaults() throws Exception {
        GenerationConfig g = GenerationConfig.read(dir);
        assertEquals(GenerationConfig.defaults(), g);
        assertFalse(g.doSample());
        assertTrue(g.greedy());
        assertEquals(1.0, g.temperature());
        assertEquals(50, g.topK());
        assertEquals(1.0, g.topP());
        assertEquals(1.0, g.repetitionPenalty());
        assertEquals(0, g.eosTokenIds().length);
        assertNull(g.maxNewTokens());
    }

    @Test
    void fieldsAreRead() throws Exception {
        GenerationConfig g = read("{\"do_sample\": true, \"temperature\": 0.9, \"top_p\": 0.6, \"top_k\": 20,"
                + " \"repetition_penalty\": 1.1, \"eos_token_id\": [2, 7], \"max_new_tokens\": 99, \"bos_token_id\": 1,"
                + " \"max_length\": 4096, \"transformers_version\": \"4.31.0\"}");
        assertTrue(g.doSample());
        assertFalse(g.greedy());
        assertEquals(0.9, g.temperature());
        assertEquals(0.6, g.topP());
        assertEquals(20, g.topK());
        assertEquals(1.1, g.repetitionPenalty());
        assertArrayEquals(new int[] {2, 7}, g.eosTokenIds());
        assertEquals(99, g.maxNewTokens());
        // an integer eos id, integers for floats, and only some fields: the rest are transformers' defaults
        GenerationConfig h = read("{\"eos_token_id\": 2, \"temperature\": 1, \"do_sample\": true}");
        assertArrayEquals(new int[] {2}, h.eosTokenIds());
        assertEquals(50, h.topK());
        // temperature 0 with do_sample true is greedy
        assertTrue(read("{\"do_sample\": true, \"temperature\": 0}").greedy());
    }

    /** JSON null is Python None: the processor is off (top_k null = no top-k, not 50). */
    @Test
    void nullTurnsAProcessorOff() throws Exception {
        GenerationConfig g = read("{\"do_sample\": null, \"temperature\": null, \"top_k\": null, \"top_p\": null,"
                + " \"repetition_penalty\": null}");
        assertEquals(new GenerationConfig(false, 1.0, 0, 1.0, 1.0, new int[0], null), g);
    }

    @Test
    void wrongTypesAndRangesAreRefusedByField() throws Exception {
        String[][] cases = {
            {"{\"temperature\": \"0.7\"}", "field 'temperature' must be a finite number"},
            {"{\"top_k\": 1.5}", "field 'top_k' must be an integer"},
            {"{\"top_k\": -1}", "'top_k'"},
            {"{\"do_sample\": \"true\"}", "field 'do_sample' must be true or false"},
            {"{\"eos_token_id\": [\"2\"]}", "field 'eos_token_id[0]' must be an integer"},
            {"{\"eos_token_id\": true}", "field 'eos_token_id' must be an integer"},
            {"{\"top_p\": 0}", "field 'top_p' = 0.0 must be in (0, 1]"},
            {"{\"top_p\": 1.5}", "field 'top_p' = 1.5 must be in (0, 1]"},
            {"{\"temperature\": -1}", "field 'temperature' = -1.0 must be >= 0"},
            {"{\"repetition_penalty\": 0}", "field 'repetition_penalty' = 0.0 must be > 0"},
            {"{\"max_new_tokens\": 0}", "'max_new_tokens'"},
            {"[1]", "not a JSON object"},
        };
        for (String[] c : cases) {
            FormatException e = assertThrows(FormatException.class, () -> read(c[0]), c[0]);
            assertTrue(e.getMessage().startsWith(dir.resolve(GenerationConfig.FILE) + ": "), e.getMessage());
            assertTrue(e.getMessage().contains(c[1]), c[0] + " -> " + e.getMessage());
        }
    }

    @Test
    void overridesAndValidation() {
        GenerationConfig g = GenerationConfig.defaults().withDoSample(true).withTemperature(0.7).withTopK(0).withTopP(0.9)
                .withRepetitionPenalty(1.2).withMaxNewTokens(5);
        assertEquals(new GenerationConfig(true, 0.7, 0, 0.9, 1.2, new int[0], 5), g);
        assertEquals("sample temperature 0.7, top-k 0, top-p 0.9, repetition penalty 1.2", g.label());
        assertThrows(IllegalArgumentException.class, () -> g.withTemperature(-0.1));
        assertThrows(IllegalArgumentException.class, () -> g.withTopP(0));
        assertThrows(IllegalArgumentException.class, () -> g.withTopK(-2));
        assertThrows(IllegalArgumentException.class, () -> g.withRepetitionPenalty(Double.NaN));
    }
}
