package intactkv.model.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.model.LlamaConfig;
import intactkv.model.LlamaWeights;
import intactkv.model.text.Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainingTest {
    @TempDir
    Path tmp;

    static List<String> corpus() {
        Random r = new Random(1);
        String[] words = {"the", "cat", "sat", "on", "a", "mat", "dog", "ran", "to", "red", "ball"};
        List<String> out = new ArrayList<>();
        for (int i = 0; i < 300; i++) {
            StringBuilder sb = new StringBuilder();
            for (int j = 0; j < 6; j++) {
                sb.append(j == 0 ? "" : " ").append(words[r.nextInt(words.length)]);
            }
            out.add(sb.toString());
        }
        return out;
    }

    @Test
    void bpeTrainerLearnsFrequentPiecesAndRoundTrips() throws Exception {
        BpeTrainer.Model m = BpeTrainer.train(corpus(), 300);
        assertEquals(300, m.pieces().size());
        assertTrue(m.pieces().contains("\u2581the") && m.pieces().contains("\u2581cat"), "whole words become pieces");
        Path f = tmp.resolve("tokenizer.json");
        BpeTrainer.write(m, f);
        Tokenizer tok = Tokenizer.load(f);
        String text = "the cat sat on a red ball, zebra!";
        int[] ids = tok.encode(text, true);
        assertEquals(tok.bosId(), ids[0]);
        assertEquals(text, tok.decode(ids, true));
        assertEquals(3, tok.encode("the cat sat", false).length, "three known words, three tokens");
    }

    static Trainer trainer(Tokenizer tok, int steps) {
        int newline = tok.id("<0x0A>");
        List<String> docs = corpus();
        int[] train = stream(tok, docs.subList(0, 250), newline);
        int[] valid = stream(tok, docs.subList(250, 300), newline);
        LlamaConfig c = new LlamaConfig(16, 32, 2, 2, 2, 1e-5, 10000, tok.vocabSize(), 64, false, 1, 2);
        Trainer.Config tc = new Trainer.Config(c, 24, 4, steps, 1e-2, 2, 0.0, 1.0, 5, 2, 4, 3, 0.1);
        return new Trainer(tc, train, Trainer.documentStarts(train, newline), valid);
    }

    static int[] stream(Tokenizer tok, List<String> docs, int newline) {
        return tok.encode(String.join("\n\n", docs), false);
    }

    /** Loss falls, and a run interrupted after its checkpoint and resumed ends with the same weights. */
    @Test
    void trainsAndResumesDeterministically() throws Exception {
        Path f = tmp.resolve("tokenizer.json");
        BpeTrainer.write(BpeTrainer.train(corpus(), 300), f);
        Tokenizer tok = Tokenizer.load(f);
        List<Trainer.Eval> evals = new ArrayList<>();
        Trainer.Listener record = new Trainer.Listener() {
            @Override
            public void progress(Trainer.Progress p) {
            }

            @Override
            public void eval(Trainer.Eval e) {
                evals.add(e);
            }
        };
        LlamaWeights full = trainer(tok, 10).train(tmp.resolve("full"), record);
        assertTrue(evals.get(evals.size() - 1).validLoss() < evals.get(0).validLoss(), "validation loss fell: " + evals);
        // the same run interrupted at step 6 (after its checkpoint at step 4), then resumed
        Trainer.Listener crash = new Trainer.Listener() {
            @Override
            public void progress(Trainer.Progress p) {
                if (p.step() == 6) {
                    throw new IllegalStateException("simulated interruption");
                }
            }

            @Override
            public void eval(Trainer.Eval e) {
            }
        };
        org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                () -> trainer(tok, 10).train(tmp.resolve("resumed"), crash));
        assertTrue(Files.isRegularFile(tmp.resolve("resumed/checkpoint/state.json")));
        LlamaWeights resumed = trainer(tok, 10).train(tmp.resolve("resumed"), record);
        assertArrayEquals(full.embed().data().data(), resumed.embed().data().data(), 0.0);
        assertArrayEquals(full.block(1).down().data().data(), resumed.block(1).down().data().data(), 0.0);
    }

    @Test
    void wordNetCorpusSplitsDeterministically() throws Exception {
        WordNetCorpus.Splits s = WordNetCorpus.splits();
        int total = s.train().size() + s.valid().size() + s.test().size();
        assertTrue(total > 100_000, "glosses: " + total);
        assertEquals(s.valid().size(), s.test().size());
        assertTrue(s.test().size() > 0.04 * total && s.test().size() < 0.06 * total);
        assertEquals(s.test(), WordNetCorpus.splits().test());
        assertEquals("an entity that has physical existence", s.train().get(1));
    }
}
