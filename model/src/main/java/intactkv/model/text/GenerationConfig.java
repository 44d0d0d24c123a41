package intactkv.model.text;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import intactkv.model.io.FormatException;
import intactkv.model.io.JsonFields;
import intactkv.model.io.JsonFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * How to choose tokens, as Hugging Face transformers 4.36.0 (the version the official IntactKV
 * code pins in {@code requirements.txt}) reads it from a model directory's
 * {@code generation_config.json} ({@code transformers/generation/configuration_utils.py::GenerationConfig}).
 *
 * <p>The fields and transformers' defaults where the file is silent (or absent):
 * <ul>
 *   <li>{@code do_sample} false: greedy decoding (the warpers below are not applied);</li>
 *   <li>{@code temperature} 1.0, {@code top_k} 50, {@code top_p} 1.0: the sampling warpers;</li>
 *   <li>{@code repetition_penalty} 1.0 (off): a logits processor, applied greedy or sampling;</li>
 *   <li>{@code eos_token_id}: an integer or a list of integers, the tokens that end generation
 *       (none in the file: the model's config.json and the tokenizer's [EOS] decide);</li>
 *   <li>{@code max_new_tokens}: the default number of new tokens (none: the caller's).</li>
 * </ul>
 * A JSON {@code null} is Python's {@code None}, which transformers treats as "this processor is
 * off" ({@code generation/utils.py::_get_logits_warper} tests {@code is not None}): null
 * temperature, top_p and repetition_penalty are 1.0, a null top_k is 0 (no top-k), a null
 * do_sample is false. Other keys of the file (bos/pad ids, max_length, transformers_version, ...)
 * are not used here; {@code max_length} counts prompt and new tokens together, which this
 * project's token limits do not, so it is not applied.
 *
 * <p>Greedy: when {@code do_sample} is false, or the temperature is 0 (transformers refuses
 * temperature 0 with sampling; the official MT-Bench script turns sampling off below 1e-4).
 *
 * @param doSample          sample (true) or take the argmax (false)
 * @param temperature       &gt;= 0, finite
 * @param topK              &gt;= 0; 0 = no top-k filter
 * @param topP              in (0, 1]; 1 = no nucleus filter
 * @param repetitionPenalty &gt; 0, finite; 1 = off
 * @param eosTokenIds       the ids that end generation (may be empty: the model's own then)
 * @param maxNewTokens      &gt;= 1, or null when not given
 */
public record GenerationConfig(boolean doSample, double temperature, int topK, double topP, double repetitionPenalty,
                               int[] eosTokenIds, Integer maxNewTokens) {
    /** The file transformers reads beside config.json. */
    public static final String FILE = "generation_config.json";

    /**
     * Checks every field, so that a sampler never sees a value transformers' processors would
     * refuse (a negative temperature, top-p outside (0, 1], a non-positive penalty).
     */
    public GenerationConfig {
        if (!(temperature >= 0) || !Double.isFinite(temperature)) {
            throw new IllegalArgumentException("temperature must be a finite number >= 0 (0 = greedy), got " + temperature);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("top_k must be >= 0 (0 = no top-k filter), got " + topK);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("top_p must be in (0, 1] (1 = no nucleus filter), got " + topP);
        }
        if (!(repetitionPenalty > 0) || !Double.isFinite(repetitionPenalty)) {
            throw new IllegalArgumentException("repetition_penalty must be a finite number > 0 (1 = off), got "
                    + repetitionPenalty);
        }
        if (maxNewTokens != null && maxNewTokens < 1) {
            throw new IllegalArgumentException("max_new_tokens must be >= 1, got " + maxNewTokens);
        }
        for (int id : eosTokenIds) {
            if (id < 0) {
                throw new IllegalArgumentException("eos_token_id must be >= 0, got " + id);
            }
        }
        eosTokenIds = eosTokenIds.clone();
    }

    @Override
    public int[] eosTokenIds() {
        return eosTokenIds.clone();
    }

    /** transformers 4.36.0's defaults: greedy, temperature 1, top-k 50, top-p 1, no penalty, no eos list. */
    public static GenerationConfig defaults() {
        return new GenerationConfig(false, 1.0, 50, 1.0, 1.0, new int[0], null);
    }

    /** Whether tokens are chosen by argmax: {@code do_sample} false, or temperature 0. */
    public boolean greedy() {
        return !doSample || temperature == 0;
    }

    /**
     * {@code dir/generation_config.json} read as transformers reads it, or {@link #defaults()}
     * when the directory has none (as {@code GenerationConfig.from_model_config} then falls back).
     */
    public static GenerationConfig read(Path dir) throws IOException {
        Path file = dir.resolve(FILE);
        return Files.isRegularFile(file) ? parse(JsonFile.read(file)) : defaults();
    }

    /**
     * The fields of a parsed {@code generation_config.json}; a wrong type or range is a
     * {@link FormatException} naming the file and the field ({@code generation_config.json: field
     * 'top_k' must be an integer, got "50"}).
     */
    public static GenerationConfig parse(JsonFields f) throws FormatException {
        GenerationConfig d = defaults();
        boolean doSample = isNull(f, "do_sample") ? false : f.bool("do_sample", d.doSample);
        double temperature = isNull(f, "temperature") ? 1.0 : f.number("temperature", d.temperature);
        int topK = isNull(f, "top_k") ? 0 : f.integer("top_k", d.topK, 0, Integer.MAX_VALUE);
        double topP = isNull(f, "top_p") ? 1.0 : f.number("top_p", d.topP);
        double penalty = isNull(f, "repetition_penalty") ? 1.0 : f.number("repetition_penalty", d.repetitionPenalty);
        Integer maxNew = f.has("max_new_tokens") ? f.integer("max_new_tokens", null, 1, Integer.MAX_VALUE) : null;
        int[] eos = eosIds(f);
        requireRange(f, "temperature", temperature >= 0, temperature, ">= 0 (0 = greedy)");
        requireRange(f, "top_p", topP > 0 && topP <= 1, topP, "in (0, 1]");
        requireRange(f, "repetition_penalty", penalty > 0, penalty, "> 0 (1 = off)");
        return new GenerationConfig(doSample, temperature, topK, topP, penalty, eos, maxNew);
    }

    private static boolean isNull(JsonFields f, String key) {
        return f.raw().has(key) && f.raw().get(key).isJsonNull();
    }

    private static void requireRange(JsonFields f, String key, boolean ok, double v, String range) throws FormatException {
        if (!ok) {
            throw new FormatException(f.source(), "field '" + f.path(key) + "' = " + v + " must be " + range);
        }
    }

    /** {@code eos_token_id}: an integer or a list of integers (transformers accepts both). */
    private static int[] eosIds(JsonFields f) throws FormatException {
        if (!f.has("eos_token_id")) {
            return new int[0];
        }
        JsonElement e = f.raw().get("eos_token_id");
        if (!e.isJsonArray()) {
            return new int[] {(int) f.integerValue(e, f.path("eos_token_id"), 0, Integer.MAX_VALUE)};
        }
        JsonArray a = e.getAsJsonArray();
        int[] ids = new int[a.size()];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = (int) f.integerValue(a.get(i), f.path("eos_token_id") + "[" + i + "]", 0, Integer.MAX_VALUE);
        }
        return ids;
    }

    /** This configuration with {@code do_sample} set. */
    public GenerationConfig withDoSample(boolean v) {
        return new GenerationConfig(v, temperature, topK, topP, repetitionPenalty, eosTokenIds, maxNewTokens);
    }

    /** This configuration with {@code temperature} set. */
    public GenerationConfig withTemperature(double v) {
        return new GenerationConfig(doSample, v, topK, topP, repetitionPenalty, eosTokenIds, maxNewTokens);
    }

    /** This configuration with {@code top_k} set (0 = off). */
    public GenerationConfig withTopK(int v) {
        return new GenerationConfig(doSample, temperature, v, topP, repetitionPenalty, eosTokenIds, maxNewTokens);
    }

    /** This configuration with {@code top_p} set (1 = off). */
    public GenerationConfig withTopP(double v) {
        return new GenerationConfig(doSample, temperature, topK, v, repetitionPenalty, eosTokenIds, maxNewTokens);
    }

    /** This configuration with {@code repetition_penalty} set (1 = off). */
    public GenerationConfig withRepetitionPenalty(double v) {
        return new GenerationConfig(doSample, temperature, topK, topP, v, eosTokenIds, maxNewTokens);
    }

    /** This configuration with {@code max_new_tokens} set (null: not given). */
    public GenerationConfig withMaxNewTokens(Integer v) {
        return new GenerationConfig(doSample, temperature, topK, topP, repetitionPenalty, eosTokenIds, v);
    }

    /** One line for logs: {@code greedy} or {@code sample T=0.7 top-k 50 top-p 1.0}, the penalty when on. */
    public String label() {
        String s = greedy() ? "greedy" : "sample temperature " + temperature + ", top-k " + topK + ", top-p " + topP;
        return repetitionPenalty == 1.0 ? s : s + ", repetition penalty " + repetitionPenalty;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GenerationConfig g && g.doSample == doSample
                && Double.compare(g.temperature, temperature) == 0 && g.topK == topK
                && Double.compare(g.topP, topP) == 0 && Double.compare(g.repetitionPenalty, repetitionPenalty) == 0
                && Arrays.equals(g.eosTokenIds, eosTokenIds) && java.util.Objects.equals(g.maxNewTokens, maxNewTokens);
    }

    @Override
    public int hashCode() {
        return java.util.Objects.hash(doSample, temperature, topK, topP, repetitionPenalty, Arrays.hashCode(eosTokenIds),
                maxNewTokens);
    }

    @Override
    public String toString() {
        return "GenerationConfig[" + label() + ", eos " + Arrays.toString(eosTokenIds) + ", max_new_tokens "
                + maxNewTokens + "]";
    }
}
