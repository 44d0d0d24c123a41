package intactkv.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.autograd.AdamW;
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
        return trainer(tok, steps, 0.0);
    }

    static Trainer trainer(Tokenizer tok, int steps, double backcopy) {
        return trainer(tok, steps, backcopy, 0.0);
    }

    /** A 300-piece BPE tokenizer trained on the test corpus, written to and loaded from the temp dir. */
    Tokenizer tokenizer() throws java.io.IOException {
        Path f = tmp.resolve("tokenizer.json");
        BpeTrainer.write(BpeTrainer.train(corpus(), 300), f);
        return Tokenizer.load(f);
    }

    static Trainer trainer(Tokenizer tok, int steps, double backcopy, double isolate) {
        return trainer(tok, steps, backcopy, isolate, Trainer.Schedule.COSINE);
    }

    static Trainer trainer(Tokenizer tok, int steps, double backcopy, double isolate, Trainer.Schedule schedule) {
        return trainer(tok, steps, backcopy, isolate, 0.0, schedule);
    }

    static Trainer trainer(Tokenizer tok, int steps, double backcopy, double isolate, double hide,
                           Trainer.Schedule schedule) {
        int newline = tok.id("<0x0A>");
        List<String> docs = corpus();
        int[] train = stream(tok, docs.subList(0, 250), newline);
        int[] valid = stream(tok, docs.subList(250, 300), newline);
        LlamaConfig c = new LlamaConfig(16, 32, 2, 2, 2, 1e-5, 10000, tok.vocabSize(), 64, false, 1, 2);
        Trainer.Config tc = new Trainer.Config(c, 24, 4, steps, 1e-2, 2, 0.0, 1.0, 5, 2, 4, 3, 0.1, backcopy,
                2, 0, isolate, hide, schedule);
        return new Trainer(tc, train, Trainer.documentStarts(train, newline), valid, newline);
    }

    static int[] stream(Tokenizer tok, List<String> docs, int newline) {
        return tok.encode(String.join("\n\n", docs), false);
    }

    /** Loss falls, and a run interrupted after its checkpoint and resumed ends with the same weights. */
    @Test
    void trainsAndResumesDeterministically() throws Exception {
        Tokenizer tok = tokenizer();
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
        List<Trainer.Eval> fullEvals = List.copyOf(evals);
        evals.clear();
        LlamaWeights resumed = trainer(tok, 10).train(tmp.resolve("resumed"), record);
        assertArrayEquals(full.embed().data().data(), resumed.embed().data().data(), 0.0);
        assertArrayEquals(full.block(1).down().data().data(), resumed.block(1).down().data().data(), 0.0);
        // the log of the resumed run goes on as the uninterrupted one's, its running train loss included
        assertTrue(!evals.isEmpty() && evals.get(0).step() > 4, "evaluations after the resume: " + evals);
        assertEquals(fullEvals.subList(fullEvals.size() - evals.size(), fullEvals.size()), evals);
    }

    /**
     * With the constant schedule the rate holds the peak after the warm-up, and a run of 8 steps
     * ends with the weights a 10-step run has after its 8th step (its checkpoint): the length of
     * the run does not enter the schedule. With cosine it does, so 8 cosine steps differ.
     */
    @Test
    void constantScheduleMakesAStoppedRunReproducible() throws Exception {
        Tokenizer tok = tokenizer();
        List<Double> rates = new ArrayList<>();
        Trainer.Listener stopAt9 = new Trainer.Listener() {
            @Override
            public void progress(Trainer.Progress p) {
                rates.add(p.lr());
                if (p.step() == 9) { // after the checkpoint at step 8 (every 4 steps)
                    throw new IllegalStateException("stop");
                }
            }

            @Override
            public void eval(Trainer.Eval e) {
            }
        };
        Trainer.Listener quiet = new Trainer.Listener() {
            @Override
            public void progress(Trainer.Progress p) {
            }

            @Override
            public void eval(Trainer.Eval e) {
            }
        };
        org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                () -> trainer(tok, 10, 0, 0, Trainer.Schedule.CONSTANT).train(tmp.resolve("ten"), stopAt9));
        assertEquals(List.of(0.0, 5e-3, 1e-2, 1e-2, 1e-2, 1e-2, 1e-2, 1e-2, 1e-2), rates,
                "a warm-up of 2 steps, then the peak");
        LlamaWeights tenAt8 = LlamaWeights.load(tmp.resolve("ten/checkpoint"), true);
        LlamaWeights eight = trainer(tok, 8, 0, 0, Trainer.Schedule.CONSTANT).train(tmp.resolve("eight"), quiet);
        assertArrayEquals(eight.embed().data().data(), tenAt8.embed().data().data(), 0.0);
        assertArrayEquals(eight.block(1).down().data().data(), tenAt8.block(1).down().data().data(), 0.0);
        LlamaWeights cosine = trainer(tok, 8).train(tmp.resolve("eight-cosine"), quiet);
        assertFalse(java.util.Arrays.equals(eight.embed().data().data(), cosine.embed().data().data()),
                "cosine decays over the run's length, so 8 cosine steps differ from 8 constant ones");
    }

    /**
     * Without back-copy every sequence is [BOS] + a slice of the training stream from a document
     * start; with a back-copy fraction of 0.5 about half of them are synthetic, and a step's batch
     * does not depend on the trainer instance.
     */
    @Test
    void mixesBackcopySequencesAtTheRequestedRate() throws Exception {
        Tokenizer tok = tokenizer();
        int newline = tok.id("<0x0A>");
        int[] train = stream(tok, corpus().subList(0, 250), newline);
        java.util.Set<Integer> starts = new java.util.HashSet<>();
        for (int s : Trainer.documentStarts(train, newline)) {
            starts.add(s);
        }
        Trainer plain = trainer(tok, 10, 0.0);
        Trainer mixed = trainer(tok, 10, 0.5);
        int synthetic = 0;
        int total = 0;
        for (int step = 0; step < 50; step++) {
            for (int[] w : plain.batch(step).ids()) {
                assertTrue(isSliceAtStart(train, starts, w), "step " + step + ": a natural window");
            }
            int[][] b = mixed.batch(step).ids();
            assertTrue(java.util.Arrays.deepEquals(b, trainer(tok, 10, 0.5).batch(step).ids()), "deterministic batch");
            for (int[] w : b) {
                assertEquals(tok.bosId(), w[0]);
                synthetic += isSliceAtStart(train, starts, w) ? 0 : 1;
                total++;
            }
        }
        assertTrue(synthetic > 0.35 * total && synthetic < 0.65 * total, synthetic + " of " + total + " synthetic");
    }

    /**
     * {@code qkWeightDecay} applies to the query and key projections of every layer and nothing else;
     * the older constructors decay all parameters alike; a negative value is refused.
     */
    @Test
    void queryKeyWeightDecayAppliesToQueryAndKeyProjectionsOnly() throws Exception {
        Tokenizer tok = tokenizer();
        int newline = tok.id("<0x0A>");
        int[] ids = stream(tok, corpus().subList(0, 100), newline);
        LlamaConfig c = new LlamaConfig(16, 32, 2, 2, 2, 1e-5, 10000, tok.vocabSize(), 64, false, 1, 2);
        Trainer.Config tc = new Trainer.Config(c, 24, 4, 10, 1e-2, 2, 0.3, 1.0, 5, 2, 4, 3, 0.1, 0.0, 2, 0, 0.0, 0.0,
                0.0, Trainer.Schedule.COSINE);
        Trainer t = new Trainer(tc, ids, Trainer.documentStarts(ids, newline), ids, newline);
        LlamaWeights w = LlamaWeights.random(c, 1, 0.02, false, true);
        AdamW opt = t.optimizer(w);
        int qk = 0;
        for (int i = 0; i < opt.params().size(); i++) {
            String name = opt.params().get(i).name();
            boolean isQk = name.matches("model\\.layers\\.\\d+\\.self_attn\\.[qk]_proj\\.weight");
            qk += isQk ? 1 : 0;
            assertEquals(isQk ? 0.0 : 0.3, opt.weightDecay(i), name);
        }
        assertEquals(2 * c.numHiddenLayers(), qk);
        Trainer.Config old = new Trainer.Config(c, 24, 4, 10, 1e-2, 2, 0.3, 1.0, 5, 2, 4, 3, 0.1, 0.0, 2, 0, 0.0, 0.0,
                Trainer.Schedule.COSINE);
        assertEquals(0.3, old.qkWeightDecay());
        assertThrows(IllegalArgumentException.class, () -> new Trainer.Config(c, 24, 4, 10, 1e-2, 2, 0.3, 1.0, 5, 2, 4,
                3, 0.1, 0.0, 2, 0, 0.0, 0.0, -0.1, Trainer.Schedule.COSINE));
    }

    @Test
    void documentMaskStartsEachGlossAfterItsSeparator() {
        int nl = 9;
        // [BOS] a b \n \n c d \n \n e
        int[] w = {1, 5, 6, nl, nl, 7, 8, nl, nl, 4};
        assertArrayEquals(new int[] {1, 1, 1, 1, 1, 5, 5, 5, 5, 9}, Trainer.documentMask(w, nl));
    }

    @Test
    void separatorMaskMarksTheNewlinesAfterBos() {
        int nl = 7;
        int[] w = {1, 20, nl, nl, 30, 31, nl, nl, 40};
        boolean[] self = Trainer.separatorMask(w, nl);
        assertArrayEquals(new boolean[] {false, false, true, true, false, false, true, true, false}, self);
        // position 0 is [BOS], never hidden, even if it were the newline id
        assertFalse(Trainer.separatorMask(new int[] {nl, 5, nl}, nl)[0]);
    }

    /**
     * Windows that hide their separators carry the separator mask, the others a row of false, about
     * half at 0.5; the draw is deterministic, the ids are natural windows, and none is drawn without
     * the option; a step under the mask trains to a finite loss.
     */
    @Test
    void hiddenSeparatorWindowsCarryTheirMask() throws Exception {
        Tokenizer tok = tokenizer();
        int newline = tok.id("<0x0A>");
        Trainer plain = trainer(tok, 10, 0.0, 0.5);
        Trainer half = trainer(tok, 10, 0.0, 0.5, 0.5, Trainer.Schedule.COSINE);
        int hidden = 0;
        int total = 0;
        for (int step = 0; step < 40; step++) {
            assertEquals(null, plain.batch(step).selfOnly());
            Trainer.Batch b = half.batch(step);
            assertTrue(java.util.Arrays.deepEquals(b.selfOnly(), half.batch(step).selfOnly()), "deterministic");
            for (int i = 0; b.selfOnly() != null && i < b.ids().length; i++) {
                boolean[] self = b.selfOnly()[i];
                boolean none = true;
                for (boolean x : self) {
                    none &= !x;
                }
                boolean[] mask = Trainer.separatorMask(b.ids()[i], newline);
                assertTrue(none || java.util.Arrays.equals(mask, self), "step " + step + " row " + i);
                // windows of 24 tokens hold at least one separator here, so a hiding window hides something
                hidden += none ? 0 : 1;
            }
            total += b.ids().length;
        }
        assertTrue(hidden > 0.35 * total && hidden < 0.65 * total, hidden + " of " + total + " hide their separators");
        Trainer all = trainer(tok, 2, 0.0, 0.0, 1.0, Trainer.Schedule.COSINE);
        all.train(tmp.resolve("hide"), new Trainer.Listener() {
            public void progress(Trainer.Progress p) {
                assertTrue(Double.isFinite(p.loss()));
            }

            public void eval(Trainer.Eval e) {
                assertTrue(Double.isFinite(e.validLoss()));
            }
        });
    }

    /** Isolated windows carry their document mask, the others a row of ones; none without the option. */
    @Test
    void isolatedWindowsCarryTheirDocumentMask() throws Exception {
        Tokenizer tok = tokenizer();
        int newline = tok.id("<0x0A>");
        Trainer plain = trainer(tok, 10, 0.0, 0.0);
        Trainer half = trainer(tok, 10, 0.0, 0.5);
        int isolated = 0;
        int total = 0;
        for (int step = 0; step < 40; step++) {
            assertEquals(null, plain.batch(step).visibleFrom());
            Trainer.Batch b = half.batch(step);
            assertTrue(java.util.Arrays.deepEquals(b.visibleFrom(), half.batch(step).visibleFrom()), "deterministic");
            for (int i = 0; b.visibleFrom() != null && i < b.ids().length; i++) {
                int[] from = b.visibleFrom()[i];
                boolean ones = java.util.Arrays.stream(from).allMatch(x -> x == 1);
                int[] mask = Trainer.documentMask(b.ids()[i], newline);
                assertTrue(ones || java.util.Arrays.equals(mask, from), "step " + step + " row " + i);
                // windows of 24 tokens hold at least two glosses here, so an isolated one masks something
                isolated += ones ? 0 : 1;
            }
            total += b.ids().length;
        }
        assertTrue(isolated > 0.35 * total && isolated < 0.65 * total, isolated + " of " + total + " isolated");
        // a masked step trains: the loss is finite and the masked model differs from the plain one
        Trainer all = trainer(tok, 4, 0.0, 1.0);
        LlamaWeights w = all.train(tmp.resolve("iso"), new Trainer.Listener() {
            public void progress(Trainer.Progress p) {
                assertTrue(Double.isFinite(p.loss()));
            }

            public void eval(Trainer.Eval e) {
            }
        });
        assertTrue(w.parameters().size() > 0);
    }

    /** The first draw of consecutive steps is spread over [0, 1), not bunched as with Random(seed + step). */
    @Test
    void consecutiveStepsGetUnrelatedSeeds() {
        int below = 0;
        for (int step = 0; step < 200; step++) {
            below += new Random(Trainer.stepSeed(1, step)).nextDouble() < 0.5 ? 1 : 0;
        }
        assertTrue(below > 70 && below < 130, below + " of 200 first draws below 0.5");
        int naive = 0;
        for (int step = 0; step < 200; step++) {
            naive += new Random(1 + step).nextDouble() < 0.5 ? 1 : 0;
        }
        assertTrue(naive == 0 || naive == 200 || Math.abs(naive - 100) > 50, "the naive seeding is bunched: " + naive);
    }

    private static boolean isSliceAtStart(int[] train, java.util.Set<Integer> starts, int[] w) {
        for (int s : starts) {
            if (s + w.length - 1 <= train.length
                    && java.util.Arrays.equals(w, 1, w.length, train, s, s + w.length - 1)) {
                return true;
            }
        }
        return false;
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
