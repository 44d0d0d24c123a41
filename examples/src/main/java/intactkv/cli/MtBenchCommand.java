package intactkv.cli;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import intactkv.model.LlamaConfig;
import intactkv.model.LlamaWeights;
import intactkv.model.text.ChatTemplate;
import intactkv.model.text.GenerationConfig;
import intactkv.model.text.Generator;
import intactkv.model.text.Sampler;
import intactkv.model.text.Tokenizer;
import intactkv.prefix.PrefixSpec;
import intactkv.prefix.PrefixedModel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ./intactkv mtbench}: answers to FastChat's MT-Bench questions in FastChat's answer
 * format, as the official {@code gen_mtbench_answer.py} (fschat 0.2.34, transformers 4.36.0)
 * writes them, for GPT-4 to judge with FastChat's {@code llm_judge}. Per question:
 * <ol>
 *   <li>the temperature of its category ({@link #TEMPERATURES}; 0.7 for any other), sampling
 *       only at 1e-4 and above (the official {@code do_sample}); the model directory's
 *       generation_config.json supplies the rest (top-k, top-p, repetition penalty, eos ids) as
 *       transformers' {@code generate} takes it;</li>
 *   <li>for each choice i: one sampler seeded with i (the official {@code torch.manual_seed(i)}),
 *       used for every turn; turn j's prompt is the Vicuna v1.1 conversation of the earlier
 *       questions and answers and question j ({@link ChatTemplate#vicunaConversation}); at most
 *       --max-new-tokens new tokens, fewer where the model's positions end;</li>
 *   <li>each answer: the text cut at the template's stop string, special tokens' text removed,
 *       surrounding whitespace stripped (the official post-processing);</li>
 *   <li>one line {@code {"question_id", "answer_id", "model_id", "choices": [{"index", "turns"}],
 *       "tstamp"}} appended to --out and forced to disk ({@link MtBenchAnswers}).</li>
 * </ol>
 * Questions already in --out are skipped, so an interrupted run resumes. The questions are
 * answered in file order (the official shuffles them to balance GPU workers, then sorts the
 * file by question_id; FastChat's judge reads answers by question_id, so order does not matter).
 */
@Command(name = "mtbench", mixinStandardHelpOptions = true,
        header = "Answer FastChat's MT-Bench questions (two-turn, Vicuna template) in FastChat's answer format.",
        description = {"Writes FastChat's answer file for MT-Bench as the official gen_mtbench_answer.py does, with the",
            "full-precision or a quantized model, with or without IntactKV (the flags of generate and ppl).",
            "Each question's turns are answered in one Vicuna v1.1 conversation (the system prompt, then",
            "\"USER: q ASSISTANT: a</s>\" for each earlier turn); the category sets the temperature (writing, roleplay",
            "0.7; extraction, math, coding, reasoning 0.0 = greedy; stem, humanities 0.1; any other 0.7); the model",
            "directory's generation_config.json gives top-k, top-p, repetition penalty and eos ids (transformers'",
            "defaults without it: top-k 50). Choice i samples with seed i. Answers are cut at the stop string \"</s>\",",
            "special tokens removed, whitespace stripped. Each answer is appended to --out as one line and forced to",
            "disk; questions already there are skipped, so a rerun resumes an interrupted one (a last line cut short",
            "by the interrupt is removed and its question answered again). The built-in model is not a chat model:",
            "its answers only show the pipeline. Judge the file with FastChat's llm_judge (docs/GENERATION.md)."})
final class MtBenchCommand implements Callable<Integer> {
    /** The official per-category temperatures ({@code gen_mtbench_answer.py::temperature_config}). */
    static final Map<String, Double> TEMPERATURES = Map.of("writing", 0.7, "roleplay", 0.7, "extraction", 0.0,
            "math", 0.0, "coding", 0.0, "reasoning", 0.0, "stem", 0.1, "humanities", 0.1, "arena-hard-200", 0.0);
    /** The official temperature of a category it does not list. */
    static final double OTHER_TEMPERATURE = 0.7;
    /** Below it the official script decodes greedily ({@code if temperature < 1e-4: do_sample = False}). */
    static final double GREEDY_BELOW = 1e-4;
    /** shortuuid's default alphabet (57 characters, no 0/1/I/O/l), and the length of its ids. */
    static final String ID_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    static final int ID_LENGTH = 22;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    RunQuantOptions quant;

    @Mixin
    IntactKvOption.NoContextOption prefixOption;

    @Mixin
    KvCacheOption kvCache;

    @Option(names = "--questions", required = true, paramLabel = "FILE", description = "FastChat's question.jsonl: one"
            + " {\"question_id\", \"category\", \"turns\": [...]} a line")
    Path questions;

    @Option(names = "--model-id", required = true, paramLabel = "NAME", description = "the name FastChat's judge knows"
            + " the answers by (its --model-list); written as model_id")
    String modelId;

    @Option(names = "--out", required = true, paramLabel = "FILE", description = "the answer file (FastChat reads"
            + " data/mt_bench/model_answer/NAME.jsonl); appended to, questions already in it are skipped")
    Path out;

    @Option(names = "--max-new-tokens", defaultValue = "1024", paramLabel = "N", description = "at most N new tokens a"
            + " turn (default ${DEFAULT-VALUE}, the official)")
    int maxNewTokens;

    @Option(names = "--num-choices", defaultValue = "1", paramLabel = "N", description = "answers per question, choice i"
            + " sampled with seed i (default ${DEFAULT-VALUE})")
    int numChoices;

    @Option(names = "--seed", defaultValue = "42", paramLabel = "S", description = "seed of the answer_ids (shortuuid-like,"
            + " drawn from S, the model id and the question_id; the official draws them unseeded); default"
            + " ${DEFAULT-VALUE}")
    long seed;

    private static final Gson GSON = new GsonBuilder().disableHtmlEscaping().create();

    /**
     * What the run is, known before any weight is read: config.json, generation_config.json, the tokenizer, the
     * questions (each turn's prompt checked against the model's positions and the prefix) and the longest prompt a
     * turn may have ({@link #requirePromptsFit}).
     */
    record Prepared(LlamaConfig config, Path dir, GenerationConfig gen, Tokenizer tok,
                    List<MtBenchQuestions.Question> all, int longestPrompt) {
    }

    Prepared prepare() throws java.io.IOException {
        checkFlags();
        quant.validate();
        LlamaConfig config = MemoryEstimate.config(quant.model);
        ModelLength.require("--max-new-tokens " + maxNewTokens, maxNewTokens, config);
        Path dir = ModelDir.check(quant.model);
        GenerationConfig gen = GenerationConfig.read(dir);
        Tokenizer tok = ModelDir.tokenizer(quant.model);
        List<MtBenchQuestions.Question> all = MtBenchQuestions.read(questions);
        int longest = requirePromptsFit(all, tok, config, PrefixSpec.plannedIds(prefixOption.which, config, tok));
        return new Prepared(config, dir, gen, tok, all, longest);
    }

    /**
     * The memory the run holds at its peak: the models ({@link QuantOptions#peakTerms}; the full-precision model
     * released where the method allows) and the generation of the longest turn: its prompt with every earlier answer
     * at --max-new-tokens, and its own answer ({@link MemoryEstimate#generationTerms}).
     * {@link HeapRule} sizes the launcher's heap by it.
     */
    MemoryPlan plan(Prepared p) throws java.io.IOException {
        int rows = Generator.reservedRows(p.longestPrompt(), maxNewTokens, p.config().maxPositionEmbeddings());
        return quant.peakTerms(!quant.releasesFullPrecision(),
                w -> MemoryEstimate.generationTerms(w, p.config(), p.longestPrompt(), rows,
                        kvCache.dtype()));
    }

    @Override
    public Integer call() throws Exception {
        Prepared p = prepare();
        GenerationConfig gen = p.gen();
        Tokenizer tok = p.tok();
        List<MtBenchQuestions.Question> all = p.all();
        Path dir = p.dir();
        ModelDir.checkOutputFile(out);
        MtBenchAnswers.Existing done = MtBenchAnswers.read(out, modelId);
        java.io.PrintWriter err = spec.commandLine().getErr();
        if (done.repair() != null) {
            err.println("note: " + done.repair());
        }
        List<MtBenchQuestions.Question> todo = all.stream().filter(q -> !done.answered().contains(q.key())).toList();
        if (todo.isEmpty()) {
            err.printf("[all %d questions of %s are already answered in %s]%n", all.size(), questions, out);
            return 0;
        }
        plan(p).require("mtbench's longest turn (a prompt of " + p.longestPrompt() + " tokens with the earlier answers"
                + " at --max-new-tokens, and --max-new-tokens " + maxNewTokens + " more)",
                "or a smaller --max-new-tokens (the KV cache takes " + Memory.size(MemoryEstimate.kvCache(p.config(), 1,
                        kvCache.dtype()))
                        + " a position)");
        AtomicReference<LlamaWeights> fp = new AtomicReference<>(LlamaWeights.load(dir, false));
        PrefixedModel run;
        String label;
        try (ProgressBar bar = new ProgressBar()) {
            // as generate: where the method allows, IntactKV's prefix is taken first and the full-precision model
            // released as it is quantized
            IntactKvOption.Prepared chosen = prefixOption.quantizedWithPrefix(quant, fp, quant.releasesFullPrecision(),
                    tok, bar);
            run = new PrefixedModel(chosen.chosen().model(), chosen.prefix());
            label = (quant.any() ? quant.plannedConfig().label() : "fp") + ", intactkv " + prefixOption.which
                    + kvCache.note(", ");
            String[] special = specialTexts(tok);
            for (int k = 0; k < todo.size(); k++) {
                MtBenchQuestions.Question q = todo.get(k);
                bar.update("mtbench", (double) k / todo.size(), (k + 1) + "/" + todo.size() + " question " + q.key());
                MtBenchAnswers.append(out, answer(run, tok, gen, q, special));
            }
            if (!todo.isEmpty()) {
                bar.update("mtbench", 1.0, todo.size() + "/" + todo.size() + " answered");
            }
        }
        err.printf("[%d answers appended to %s (%d were there); model_id %s; %s]%n", todo.size(), out,
                all.size() - todo.size(), modelId, label);
        return 0;
    }

    /** The answer line of question {@code q}: every choice, every turn. */
    String answer(PrefixedModel run, Tokenizer tok, GenerationConfig file, MtBenchQuestions.Question q, String[] special) {
        double temperature = TEMPERATURES.getOrDefault(q.category(), OTHER_TEMPERATURE);
        GenerationConfig g = file.withTemperature(temperature).withDoSample(temperature >= GREEDY_BELOW);
        Generator.Stop stop = new Generator.Stop(g.eosTokenIds(), ChatTemplate.VICUNA_STOP);
        JsonArray choices = new JsonArray();
        for (int i = 0; i < numChoices; i++) {
            Sampler sampler = new Sampler(g, i);
            List<String> answers = new ArrayList<>();
            for (int j = 0; j < q.turns().size(); j++) {
                String prompt = ChatTemplate.vicunaConversation(q.turns().subList(0, j + 1), answers);
                int[] ids = tok.encode(prompt, true);
                int limit = run.model().config().maxPositionEmbeddings();
                if (ids.length >= limit) {
                    throw new IllegalArgumentException(questions + ":" + q.line() + ": turn " + (j + 1) + " of question "
                            + q.key() + " is " + ids.length + " tokens with the earlier answers, which fills the model's"
                            + " max_position_embeddings " + limit + "; lower --max-new-tokens (the answers so far are"
                            + " not written) or remove the question");
                }
                Generator.Result r = run.generate(tok, ids, maxNewTokens, sampler, stop, kvCache.dtype(), s -> { });
                answers.add(clean(r.text(), special));
            }
            JsonObject c = new JsonObject();
            c.addProperty("index", i);
            JsonArray turns = new JsonArray();
            answers.forEach(turns::add);
            c.add("turns", turns);
            choices.add(c);
        }
        JsonObject a = new JsonObject();
        a.add("question_id", q.id());
        a.addProperty("answer_id", answerId(seed, modelId + "\u0000" + q.key()));
        a.addProperty("model_id", modelId);
        a.add("choices", choices);
        // seconds since the epoch, as Python's time.time() (plain decimal, not 1.79E9)
        a.addProperty("tstamp", java.math.BigDecimal.valueOf(System.currentTimeMillis()).movePointLeft(3));
        return GSON.toJson(a);
    }

    /**
     * The official post-processing of one answer: cut at the stop string where it appears after
     * the start ({@code output.find(stop_str) > 0}), remove every special token's text, strip
     * surrounding whitespace. (The generator already stopped at the stop string and decoded
     * without special tokens; this also removes their text where plain pieces spelled it.)
     */
    static String clean(String text, String[] special) {
        int at = text.indexOf(ChatTemplate.VICUNA_STOP);
        String s = at > 0 ? text.substring(0, at) : text;
        for (String t : special) {
            s = s.replace(t, "");
        }
        return s.strip();
    }

    /** The text of the tokenizer's special tokens ({@code <s>}, {@code </s>}, {@code <unk>}, ...). */
    static String[] specialTexts(Tokenizer tok) {
        List<String> out = new ArrayList<>();
        for (int id = 0; id < tok.vocabSize(); id++) {
            if (tok.isSpecial(id) && !tok.piece(id).isEmpty()) {
                out.add(tok.piece(id));
            }
        }
        return out.toArray(String[]::new);
    }

    /**
     * A shortuuid-like answer id: 22 characters of shortuuid's alphabet, drawn with
     * {@link SplittableRandom} seeded from {@code seed} and {@code key} (the model_id and the
     * question's key), so a rerun and a resumed run give each answer the same id, and two models'
     * answers to one question get different ids.
     */
    static String answerId(long seed, String key) {
        long h = seed;
        for (int i = 0; i < key.length(); i++) {
            h = h * 1_000_003L + key.charAt(i);
        }
        SplittableRandom r = new SplittableRandom(h);
        StringBuilder b = new StringBuilder(ID_LENGTH);
        for (int i = 0; i < ID_LENGTH; i++) {
            b.append(ID_ALPHABET.charAt(r.nextInt(ID_ALPHABET.length())));
        }
        return b.toString();
    }

    /**
     * Refuses, before any model work, a question whose prompt cannot be answered: turn j's prompt
     * with the earlier answers left empty (the shortest it can be) must leave room for one new
     * token under max_position_embeddings, and with --intactkv it must begin with the prefix's
     * tokens (the prefix replaces them). Named by file, line and field. Returns the longest prompt
     * a turn may have: turn j's with empty answers plus j answers of --max-new-tokens (an answer's
     * text tokenized again within the conversation may take a few tokens more or fewer), at most
     * max_position_embeddings - 1.
     */
    int requirePromptsFit(List<MtBenchQuestions.Question> qs, Tokenizer tok, LlamaConfig config, int[] prefixIds) {
        int limit = config.maxPositionEmbeddings();
        long longest = 0;
        for (MtBenchQuestions.Question q : qs) {
            List<String> empty = new ArrayList<>();
            for (int j = 0; j < q.turns().size(); j++) {
                int[] ids = tok.encode(ChatTemplate.vicunaConversation(q.turns().subList(0, j + 1), empty), true);
                String where = questions + ":" + q.line() + ": field 'turns[" + j + "]'";
                Flags.require(ids.length < limit, where + ": its prompt (Vicuna template, earlier questions, no answers"
                        + " yet) is " + ids.length + " tokens, no room under the model's max_position_embeddings " + limit
                        + " (config.json); shorten the question or use a model with a longer context");
                Flags.require(ids.length >= prefixIds.length && Arrays.equals(Arrays.copyOf(ids, prefixIds.length),
                        prefixIds), where + ": --intactkv " + prefixOption.which + ": the prompt's tokens do not begin"
                        + " with the prefix's " + prefixIds.length + " tokens, so the prefix cannot replace them; use"
                        + " --intactkv prompt (the Vicuna system prompt), bos or none");
                longest = Math.max(longest, Math.min(limit - 1, ids.length + (long) j * maxNewTokens));
                empty.add("");
            }
        }
        return (int) longest;
    }

    /** Flag ranges, refused before anything is read. */
    void checkFlags() {
        kvCache.dtype(); // --kv-cache-dtype
        Flags.require(numChoices >= 1, "--num-choices must be >= 1: " + numChoices);
        Flags.require(maxNewTokens >= 1, "--max-new-tokens must be >= 1: " + maxNewTokens);
        Flags.require(!modelId.isBlank() && modelId.strip().equals(modelId) && modelId.indexOf('\n') < 0,
                "--model-id must be a non-empty name without surrounding spaces: \"" + modelId + "\"");
        Flags.require(prefixOption.context.equals("none"), "--context " + prefixOption.context + " is ppl's; mtbench"
                + " always puts the Vicuna system prompt first: use --intactkv prompt for its full-precision keys and"
                + " values");
        Flags.require(!questions.toAbsolutePath().normalize().equals(out.toAbsolutePath().normalize()),
                "--out " + out + " is the --questions file; give the answers their own file");
    }
}
