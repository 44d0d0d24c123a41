package intactkv.cli;

import static intactkv.cli.BadInputTest.assertRefused;
import static intactkv.cli.BadInputTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import intactkv.model.LlamaConfig;
import intactkv.model.LlamaWeights;
import intactkv.model.io.DType;
import intactkv.model.io.SafetensorsWriter;
import intactkv.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 26 through the command line: a checkpoint that is not what it claims is refused with one
 * line naming the file and field (exit code 1) before any work, and lengths follow the model.
 * Each test is a row of the issue (docs/RELIABILITY.md, "A checkpoint is what it claims").
 */
class CheckpointClaimsTest {
    @TempDir
    static Path dir;
    static Path model;
    static Path data;

    @BeforeAll
    static void fixtures() throws Exception {
        System.setProperty("intactkv.home", Path.of("..").toAbsolutePath().normalize().toString());
        model = ModelCommandsTest.tinyModel(dir.resolve("tiny"));
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 200; i++) {
            text.append(i % 3 == 0 ? "ab a b\n" : "a ab b ab\n");
        }
        data = dir.resolve("data.txt");
        Files.writeString(data, text);
    }

    /** A copy of the tiny model with {@code edit} applied to its config.json. */
    private static Path edited(String name, Consumer<JsonObject> edit) throws IOException {
        Path d = dir.resolve(name);
        Files.createDirectories(d);
        for (String f : new String[] {"config.json", "model.safetensors", "tokenizer.json"}) {
            Files.copy(model.resolve(f), d.resolve(f));
        }
        JsonObject o = JsonParser.parseString(Files.readString(d.resolve("config.json"))).getAsJsonObject();
        edit.accept(o);
        Files.writeString(d.resolve("config.json"), o.toString());
        return d;
    }

    private static String[] ppl(Path m, String... more) {
        String[] base = {"ppl", "--model", m.toString(), "--data", data.toString(), "--seqlen", "32"};
        String[] a = java.util.Arrays.copyOf(base, base.length + more.length);
        System.arraycopy(more, 0, a, base.length, more.length);
        return run(a);
    }

    @Test
    void anotherFamilyOrAnUnimplementedFieldIsRefused() throws IOException {
        String[] r = ppl(edited("mistral", o -> {
            o.addProperty("model_type", "mistral");
            o.addProperty("sliding_window", 16);
        }));
        assertRefused(r, "config.json", "model_type 'mistral' is not implemented", "llama (LLaMA, LLaMA-2");
        assertTrue(r[1].isEmpty() && r[3].isEmpty(), "no work: " + r[1] + r[3]);
        assertRefused(ppl(edited("sliding", o -> o.addProperty("sliding_window", 16))), "sliding_window 16");
        for (String cmd : new String[] {"ppl", "generate"}) {
            String help = run(cmd, "--help")[1].replaceAll("\\s+", " ");
            assertTrue(help.contains("llama (LLaMA, LLaMA-2, LLaMA-3, Vicuna, TinyLlama)"), cmd + " --help: " + help);
        }
        assertRefused(ppl(edited("qwen-bias", o -> o.addProperty("attention_bias", true))), "attention_bias true");
        assertRefused(ppl(edited("head-dim", o -> o.addProperty("head_dim", 8))), "head_dim 8 is not implemented");
    }

    @Test
    void tensorsTheModelDoesNotUseAreRefused() throws Exception {
        Path d = dir.resolve("bias");
        LlamaWeights w = LlamaWeights.load(model, false);
        Files.createDirectories(d);
        SafetensorsWriter s = new SafetensorsWriter();
        w.forEachNamed((n, v) -> s.put(n, DType.F32, v.data()));
        s.put("model.layers.0.self_attn.q_proj.bias", DType.F32, Tensor.zeros(16));
        s.write(d.resolve("model.safetensors"));
        Files.copy(model.resolve("config.json"), d.resolve("config.json"));
        Files.copy(model.resolve("tokenizer.json"), d.resolve("tokenizer.json"));
        assertRefused(ppl(d), "tensor 'model.layers.0.self_attn.q_proj.bias' is not used by a LLaMA model",
                "attention_bias is not supported");
        // the tiny model has 2 layers: a config that says 1 names layer 1 and num_hidden_layers
        assertRefused(ppl(edited("fewer-layers", o -> o.addProperty("num_hidden_layers", 1))), "num_hidden_layers 1",
                "layer 1 is the first not used");
    }

    /** The case: a 420-piece tokenizer of another model beside the built-in 1024-row weights. */
    @Test
    void aTokenizerOfAnotherModelIsRefused() throws IOException {
        Path d = dir.resolve("builtin-foreign-tokenizer");
        Files.createDirectories(d);
        Path builtin = DefaultModel.dir();
        Files.copy(builtin.resolve("config.json"), d.resolve("config.json"));
        Files.copy(builtin.resolve("model.safetensors"), d.resolve("model.safetensors"));
        StringBuilder vocab = new StringBuilder("{\"<unk>\":0,\"<s>\":1,\"</s>\":2");
        for (int i = 3; i < 420; i++) {
            vocab.append(",\"p").append(i).append("\":").append(i);
        }
        Files.writeString(d.resolve("tokenizer.json"), "{\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":"
                + "[{\"SpecialToken\":{\"id\":\"<s>\"}}]},\"model\":{\"type\":\"BPE\",\"vocab\":" + vocab
                + "},\"merges\":[]}}");
        String[] r = ppl(d);
        assertRefused(r, d.resolve("tokenizer.json") + ": tokenizer does not fit the model: it has 420 tokens",
                d.resolve("config.json").toString(),
                "vocab_size 1024");
        assertTrue(r[1].isEmpty() && r[3].isEmpty(), "no work: " + r[1] + r[3]);
        r = run("generate", "--model", d.toString(), "--prompt", "a small dog");
        assertRefused(r, "tokenizer.json", "config.json", "420 tokens");
    }

    /** Padding rows are accepted with a note; a padding id the model picks is named, on a line of its own. */
    @Test
    void aPaddingIdTheModelPicksIsNamed() throws Exception {
        Path d = dir.resolve("padded");
        // vocab_size 264 = the tokenizer's 263 rounded up to a multiple of 8; the LM head is zero but for the
        // padding row, e_0 signed so that its logit at the prompt's last position is positive: it wins the argmax
        LlamaConfig c = new LlamaConfig(16, 24, 4, 2, 2, 1e-5, 10000, 264, 512, false, 1, 2);
        LlamaWeights w = LlamaWeights.random(c, 5, 0.3, true, false);
        double[] head = w.lmHead().data().data();
        java.util.Arrays.fill(head, 0.0);
        head[263 * 16] = 1.0;
        int[] ids = intactkv.model.text.Tokenizer.load(model.resolve("tokenizer.json")).encode("ab a", true);
        Tensor logits = new intactkv.model.LlamaModel(w).forward(ids, null, intactkv.model.LlamaModel.Options.LOGITS)
                .logits().data();
        double h0 = logits.data()[(ids.length - 1) * 264 + 263];
        assertTrue(h0 != 0, "the hidden state's first channel is not 0");
        head[263 * 16] = Math.signum(h0);
        w.save(d, DType.F32);
        Files.copy(model.resolve("tokenizer.json"), d.resolve("tokenizer.json"));
        String[] r = run("generate", "--model", d.toString(), "--prompt", "ab a", "--max-tokens", "4");
        assertTrue(r[3].contains("ids 263..263 are padding"), "note on stderr: " + r[3]);
        assertRefused(r, "token id 263", "config.json's vocab_size 264", "tokenizer.json (263 tokens)");
        assertTrue(r[1].endsWith("\n"), "the message is not glued to the text: " + r[1]);
    }

    @Test
    void aQuantizedDirectoryAsModelIsRefusedWithTheFlagToUse() {
        Path q = dir.resolve("q-as-model");
        String[] r = run("quantize", "--model", model.toString(), "--method", "rtn", "--wbits", "3", "--group", "8",
                "--out", q.toString());
        assertEquals("0", r[0], r[2]);
        r = ppl(q);
        assertRefused(r, "--model " + q, "is a quantized model", "quant_config.json", "--quantized " + q);
        // and a full-precision directory as --quantized
        r = ppl(model, "--quantized", model.toString());
        assertRefused(r, "--quantized " + model, "has no quant_config.json");
    }

    /** A --quantized of another model names the field that differs, not two config records. */
    @Test
    void aQuantizedModelOfAnotherModelNamesTheField() throws Exception {
        Path other = edited("other-theta", o -> o.addProperty("rope_theta", 500000.0));
        Path q = dir.resolve("q-other");
        assertEquals("0", run("quantize", "--model", other.toString(), "--method", "rtn", "--wbits", "3", "--group", "8",
                "--out", q.toString())[0]);
        String[] r = ppl(model, "--quantized", q.toString());
        assertRefused(r, "rope_theta 500000.0 in " + q.resolve("config.json"), "but 10000.0 in the full-precision");
        assertFalse(r[2].contains("LlamaConfig["), r[2]);
    }

    @Test
    void aFileAsModelOrAsPrefixSaysWhatItIs() throws IOException {
        String[] r = ppl(model.resolve("config.json"));
        assertRefused(r, "is a file, not a model directory", "--model " + model.toAbsolutePath());
        Path text = dir.resolve("notes.txt");
        Files.writeString(text, "a small domesticated carnivore\n");
        r = ppl(model, "--intactkv", text.toString());
        assertRefused(r, text.toString(), "not an IntactKV prefix file", "begins with text \"a small domesticated",
                "./intactkv calibrate");
        assertFalse(r[2].contains("impossible"), r[2]);
    }

    /** {@code --model default} beside a folder named default: refused, naming how to get each. */
    @Test
    void aDefaultFolderIsNeverShadowed() throws IOException {
        Path work = dir.resolve("work");
        Files.createDirectories(work.resolve("default"));
        IOException e = assertThrows(IOException.class, () -> DefaultModel.resolve(Path.of("default"), work));
        assertTrue(e.getMessage().contains("--model default is ambiguous") && e.getMessage().contains("--model ./default")
                && e.getMessage().contains(DefaultModel.dir().toAbsolutePath().normalize().toString()), e.getMessage());
        assertEquals(Path.of("./default"), DefaultModel.resolve(Path.of("./default"), work));
        Path empty = dir.resolve("elsewhere");
        Files.createDirectories(empty);
        assertEquals(DefaultModel.dir(), DefaultModel.resolve(Path.of("default"), empty));
    }

    /** Window defaults follow the model; every length flag is checked against max_position_embeddings first. */
    @Test
    void lengthsFollowTheModel() throws IOException {
        assertEquals(256, ModelLength.defaultWindow(DefaultModel.dir()), "the built-in model's training length");
        assertEquals(512, ModelLength.defaultWindow(model), "min(2048, max_position_embeddings 512)");
        Path longer = edited("long", o -> o.addProperty("max_position_embeddings", 4096));
        assertEquals(2048, ModelLength.defaultWindow(longer), "min(2048, 4096)");
        String[] r = run("ppl", "--model", model.toString(), "--data", data.toString(), "--seqlen", "600");
        assertRefused(r, "--seqlen 600 is longer than the model's max_position_embeddings 512");
        assertTrue(r[3].isEmpty(), "no work: " + r[3]);
        r = run("generate", "--model", model.toString(), "--prompt", "ab", "--max-tokens", "2000000000");
        assertRefused(r, "--max-tokens 2000000000", "max_position_embeddings 512");
        assertTrue(r[1].isEmpty(), "nothing generated: " + r[1]);
        String ids = String.join(",", java.util.Collections.nCopies(600, "260"));
        r = run("dump", "--model", model.toString(), "--tokens", ids, "--out", dir.resolve("d.safetensors").toString());
        assertRefused(r, "--tokens (600 tokens) is longer than the model's max_position_embeddings 512");
        r = run("analyze", "--model", model.toString(), "--text", "ab ".repeat(400), "--out", dir.resolve("an").toString());
        assertRefused(r, "the text's", "(cut them with --max-tokens N) is longer than the model's max_position_embeddings");
        assertFalse(Files.exists(dir.resolve("an")));
        r = run("calibrate", "--model", model.toString(), "--method", "rtn", "--wbits", "3", "--group", "8", "--data",
                data.toString(), "--out", dir.resolve("p.safetensors").toString(), "--seqlen", "1000");
        assertRefused(r, "--seqlen 1000 is longer than the model's max_position_embeddings 512");
        assertTrue(r[3].isEmpty(), "no work: " + r[3]);
    }

    /** {@code ./intactkv train} records its window in config.json the way the built-in model has it. */
    @Test
    void trainRecordsItsWindow() throws IOException {
        Path d = dir.resolve("trained");
        Files.createDirectories(d);
        LlamaConfig.read(DefaultModel.dir().resolve("config.json")).write(d.resolve("config.json"), "float32");
        ModelLength.recordTrainSeqlen(d, 256);
        assertEquals(Files.readString(DefaultModel.dir().resolve("config.json")), Files.readString(d.resolve("config.json")));
    }
}
