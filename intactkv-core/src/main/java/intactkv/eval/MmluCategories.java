package intactkv.eval;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * MMLU's grouping of its 57 subjects into 17 subcategories and those into 4 categories (Hendrycks
 * et al.'s {@code categories.py}, repeated in the official IntactKV code), in the order the
 * official report prints them: subcategories in their first appearance in the subject table,
 * categories as listed. A subject outside the table belongs to none (the official code would stop
 * with a KeyError; here it is scored and counted in the overall accuracy only).
 *
 * <p>Reference: {@code eval_utils/mmlu.py::subcategories}, {@code categories}.
 */
public final class MmluCategories {
    private static final Map<String, String> SUBCATEGORY = new LinkedHashMap<>();
    private static final Map<String, List<String>> CATEGORIES = new LinkedHashMap<>();

    static {
        String[][] table = {
            {"abstract_algebra", "math"}, {"anatomy", "health"}, {"astronomy", "physics"},
            {"business_ethics", "business"}, {"clinical_knowledge", "health"}, {"college_biology", "biology"},
            {"college_chemistry", "chemistry"}, {"college_computer_science", "computer science"},
            {"college_mathematics", "math"}, {"college_medicine", "health"}, {"college_physics", "physics"},
            {"computer_security", "computer science"}, {"conceptual_physics", "physics"},
            {"econometrics", "economics"}, {"electrical_engineering", "engineering"},
            {"elementary_mathematics", "math"}, {"formal_logic", "philosophy"}, {"global_facts", "other"},
            {"high_school_biology", "biology"}, {"high_school_chemistry", "chemistry"},
            {"high_school_computer_science", "computer science"}, {"high_school_european_history", "history"},
            {"high_school_geography", "geography"}, {"high_school_government_and_politics", "politics"},
            {"high_school_macroeconomics", "economics"}, {"high_school_mathematics", "math"},
            {"high_school_microeconomics", "economics"}, {"high_school_physics", "physics"},
            {"high_school_psychology", "psychology"}, {"high_school_statistics", "math"},
            {"high_school_us_history", "history"}, {"high_school_world_history", "history"},
            {"human_aging", "health"}, {"human_sexuality", "culture"}, {"international_law", "law"},
            {"jurisprudence", "law"}, {"logical_fallacies", "philosophy"}, {"machine_learning", "computer science"},
            {"management", "business"}, {"marketing", "business"}, {"medical_genetics", "health"},
            {"miscellaneous", "other"}, {"moral_disputes", "philosophy"}, {"moral_scenarios", "philosophy"},
            {"nutrition", "health"}, {"philosophy", "philosophy"}, {"prehistory", "history"},
            {"professional_accounting", "other"}, {"professional_law", "law"}, {"professional_medicine", "health"},
            {"professional_psychology", "psychology"}, {"public_relations", "politics"},
            {"security_studies", "politics"}, {"sociology", "culture"}, {"us_foreign_policy", "politics"},
            {"virology", "health"}, {"world_religions", "philosophy"},
        };
        for (String[] row : table) {
            SUBCATEGORY.put(row[0], row[1]);
        }
        CATEGORIES.put("STEM", List.of("physics", "chemistry", "biology", "computer science", "math", "engineering"));
        CATEGORIES.put("humanities", List.of("history", "philosophy", "law"));
        CATEGORIES.put("social sciences", List.of("politics", "culture", "economics", "geography", "psychology"));
        CATEGORIES.put("other (business, health, misc.)", List.of("other", "business", "health"));
    }

    private MmluCategories() {
    }

    /** The subcategory of an MMLU subject, or null outside the table. */
    public static String subcategory(String subject) {
        return SUBCATEGORY.get(subject);
    }

    /** The category a subcategory belongs to, or null. */
    public static String category(String subcategory) {
        for (Map.Entry<String, List<String>> e : CATEGORIES.entrySet()) {
            if (e.getValue().contains(subcategory)) {
                return e.getKey();
            }
        }
        return null;
    }

    /** Every subcategory, in the official report's order. */
    public static List<String> subcategories() {
        return SUBCATEGORY.values().stream().distinct().toList();
    }

    /** Every category, in the official report's order. */
    public static List<String> categories() {
        return List.copyOf(CATEGORIES.keySet());
    }

    /** Number of subjects in the table (57). */
    public static int subjects() {
        return SUBCATEGORY.size();
    }
}
