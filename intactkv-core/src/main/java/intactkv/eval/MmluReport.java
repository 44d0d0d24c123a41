package intactkv.eval;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The accuracies the official MMLU evaluation reports for one shot count: per subject, per
 * subcategory and per category ({@link MmluCategories}), and {@code weighted_accuracy}, the mean
 * over all scored items together, so each subject weighs by its number of test items (not the
 * mean of the subject accuracies). A group's accuracy is likewise the mean over its items. Groups
 * without any item are left out (the official code needs all 57 subjects).
 *
 * <p>Reference: {@code eval_utils/mmlu.py::run_mmlu_eval} ({@code np.mean(np.concatenate(...))}).
 */
public record MmluReport(int shots, Map<String, Group> subjects, Map<String, Group> subcategories,
                         Map<String, Group> categories, Group overall, int shortened) {
    public MmluReport {
        subjects = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(subjects));
        subcategories = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(subcategories));
        categories = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(categories));
    }

    /** Items and right answers of a group; {@code acc = correct / items}. */
    public record Group(int items, int correct) {
        public double acc() {
            return (double) correct / items;
        }

        Group plus(boolean right) {
            return new Group(items + 1, correct + (right ? 1 : 0));
        }
    }

    /**
     * The report of answers obtained with {@code shots} shots asked; {@code shortened} counts the
     * items whose prompt had fewer shots to fit the length limit.
     */
    public static MmluReport of(int shots, List<MmluOfficial.Answer> answers) {
        Map<String, Group> subjects = new LinkedHashMap<>();
        Map<String, Group> sub = new LinkedHashMap<>();
        Map<String, Group> cat = new LinkedHashMap<>();
        Group all = new Group(0, 0);
        int shortened = 0;
        for (MmluOfficial.Answer a : answers) {
            subjects.merge(a.subject(), new Group(1, a.correct() ? 1 : 0), MmluReport::sum);
            all = all.plus(a.correct());
            shortened += a.shots() < shots ? 1 : 0;
        }
        List<String> order = new ArrayList<>(MmluCategories.subcategories());
        for (String s : order) {
            Group g = null;
            for (Map.Entry<String, Group> e : subjects.entrySet()) {
                if (s.equals(MmluCategories.subcategory(e.getKey()))) {
                    g = g == null ? e.getValue() : sum(g, e.getValue());
                }
            }
            if (g != null) {
                sub.put(s, g);
                cat.merge(MmluCategories.category(s), g, MmluReport::sum);
            }
        }
        Map<String, Group> catOrdered = new LinkedHashMap<>();
        for (String c : MmluCategories.categories()) {
            if (cat.containsKey(c)) {
                catOrdered.put(c, cat.get(c));
            }
        }
        return new MmluReport(shots, subjects, sub, catOrdered, all, shortened);
    }

    private static Group sum(Group a, Group b) {
        return new Group(a.items() + b.items(), a.correct() + b.correct());
    }
}
