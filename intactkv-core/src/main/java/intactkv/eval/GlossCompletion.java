package intactkv.eval;

import intactkv.train.WordNetCorpus;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * The built-in task: gloss completion on the WordNet test split, a HellaSwag-style task the
 * built-in model (trained on glosses alone) can do. For each test gloss of at least
 * {@value #MIN_WORDS} words, the context is its first half (in words) and the choices are its
 * own second half and the second halves of three other test glosses of the same part of speech,
 * drawn with a fixed seed, in a seeded order. Deterministic: the same items on every machine.
 */
public final class GlossCompletion {
    /** Shortest gloss used, in words. */
    public static final int MIN_WORDS = 6;

    private GlossCompletion() {
    }

    /** The first {@code n} items (at most as many as there are eligible test glosses). */
    public static List<McItem> items(int n, long seed) throws IOException {
        return items(WordNetCorpus.testEntries(), n, seed);
    }

    static List<McItem> items(List<WordNetCorpus.Entry> entries, int n, long seed) {
        List<String[]> halves = new ArrayList<>();
        List<Character> pos = new ArrayList<>();
        for (WordNetCorpus.Entry e : entries) {
            String[] w = e.gloss().split(" ");
            if (w.length >= MIN_WORDS) {
                int cut = w.length / 2;
                halves.add(new String[] {String.join(" ", java.util.Arrays.copyOf(w, cut)),
                    " " + String.join(" ", java.util.Arrays.copyOfRange(w, cut, w.length))});
                pos.add(e.pos());
            }
        }
        Random rng = new Random(seed);
        List<McItem> out = new ArrayList<>();
        for (int i = 0; i < halves.size() && out.size() < n; i++) {
            List<String> choices = new ArrayList<>(List.of(halves.get(i)[1]));
            int tries = 0;
            while (choices.size() < 4 && tries++ < 1000) {
                int j = rng.nextInt(halves.size());
                String ending = halves.get(j)[1];
                if (j != i && pos.get(j).equals(pos.get(i)) && !choices.contains(ending)) {
                    choices.add(ending);
                }
            }
            if (choices.size() < 4) {
                continue;
            }
            String gold = choices.get(0);
            java.util.Collections.shuffle(choices, rng);
            out.add(new McItem(halves.get(i)[0], choices, choices.indexOf(gold), ""));
        }
        return out;
    }
}
