package intactkv.eval;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * An items file cut into MMLU's dev and test splits, subject by subject. The official data has
 * two files per subject ({@code dev/S_dev.csv}, 5 rows, and {@code test/S_test.csv}); the
 * {@link McItem} format has one list, so here the first {@code devItems} items of each subject, in
 * file order, are its dev split (the shots; never scored) and the rest its test split (scored).
 * A file written as the dev rows of each subject before its test rows therefore gives exactly the
 * official splits with {@code devItems = 5}. Subjects are sorted by name, as the official
 * {@code sorted(subjects)}; items keep their file order within a subject.
 *
 * <p>Reference: {@code eval_utils/mmlu.py::run_mmlu_eval} ({@code dev_df = read_csv(dev)[:num_fewshot]},
 * {@code test_df = read_csv(test)}).
 */
public record MmluSplit(List<Subject> subjects) {
    public MmluSplit {
        subjects = List.copyOf(subjects);
    }

    /** One subject: its dev items (shots, in order), its test items and where each test item comes from. */
    public record Subject(String name, List<McItem> dev, List<McItem> test, List<String> testWhere) {
        public Subject {
            dev = List.copyOf(dev);
            test = List.copyOf(test);
            testWhere = List.copyOf(testWhere);
        }
    }

    /**
     * Checks every item ({@link MmluFormat#check}; an error names the item's file and line), then
     * splits: per subject the first {@code devItems} items are dev, the rest test. Every subject
     * needs at least {@code devItems + 1} items. With {@code limit} (null: all), only the first
     * {@code limit} test items of the file, in file order, are kept; subjects left without test
     * items are dropped.
     */
    public static MmluSplit of(McItem.Task task, int devItems, Integer limit) {
        if (devItems < 0) {
            throw new IllegalArgumentException("--mmlu-dev must be >= 0: " + devItems);
        }
        if (limit != null && limit < 1) {
            throw new IllegalArgumentException("--limit must be >= 1: " + limit);
        }
        for (int i = 0; i < task.items().size(); i++) {
            try {
                MmluFormat.check(task.items().get(i));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(task.where().get(i) + ": " + e.getMessage(), e);
            }
        }
        Map<String, List<Integer>> bySubject = new TreeMap<>();
        for (int i = 0; i < task.items().size(); i++) {
            bySubject.computeIfAbsent(task.items().get(i).subject(), s -> new ArrayList<>()).add(i);
        }
        boolean[] kept = new boolean[task.items().size()];
        for (Map.Entry<String, List<Integer>> e : bySubject.entrySet()) {
            int n = e.getValue().size();
            if (n <= devItems) {
                throw new IllegalArgumentException(task.name() + ": subject '" + e.getKey() + "' has " + n + " items"
                        + " (the first at " + task.where().get(e.getValue().get(0)) + "), but its first " + devItems
                        + " are the dev split (--mmlu-dev " + devItems + ") and at least one more is needed to score");
            }
            for (int j = devItems; j < n; j++) {
                kept[e.getValue().get(j)] = true;
            }
        }
        int left = limit == null ? Integer.MAX_VALUE : limit;
        for (int i = 0; i < kept.length; i++) {
            if (kept[i] && left-- <= 0) {
                kept[i] = false;
            }
        }
        List<Subject> out = new ArrayList<>();
        for (Map.Entry<String, List<Integer>> e : bySubject.entrySet()) {
            List<McItem> dev = new ArrayList<>();
            List<McItem> test = new ArrayList<>();
            List<String> where = new ArrayList<>();
            for (int j = 0; j < e.getValue().size(); j++) {
                int i = e.getValue().get(j);
                if (j < devItems) {
                    dev.add(task.items().get(i));
                } else if (kept[i]) {
                    test.add(task.items().get(i));
                    where.add(task.where().get(i));
                }
            }
            if (!test.isEmpty()) {
                out.add(new Subject(e.getKey(), dev, test, where));
            }
        }
        return new MmluSplit(out);
    }

    /** Number of test items over all subjects. */
    public int testItems() {
        return subjects.stream().mapToInt(s -> s.test().size()).sum();
    }
}
