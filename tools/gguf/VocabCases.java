import intactkv.model.text.GgufVocab;
import intactkv.model.text.Tokenizer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * llama.cpp's tokenizer test cases (models/ggml-vocab-NAME.gguf with .inp and .out, as
 * tests/test-tokenizer-0.cpp reads them: cases separated by a line "__ggml_vocab_test__", the
 * expected ids one line per case, tokenized without [BOS]) run through GgufVocab; prints each
 * mismatch and a summary line. Run by vocab_cases.sh; third-party data, so not a test.
 */
public class VocabCases {
    public static void main(String[] args) throws Exception {
        int fails = 0;
        int total = 0;
        for (String vocab : args) {
            Tokenizer tok = GgufVocab.load(Path.of(vocab));
            String inp = Files.readString(Path.of(vocab + ".inp"), StandardCharsets.UTF_8);
            String[] cases = inp.split("\n__ggml_vocab_test__\n", -1);
            String[] out = Files.readString(Path.of(vocab + ".out"), StandardCharsets.UTF_8).split("\n", -1);
            int n = 0;
            int bad = 0;
            for (int i = 0; i < cases.length; i++) {
                String text = cases[i];
                if (i == cases.length - 1 && text.endsWith("\n__ggml_vocab_test__")) {
                    text = text.substring(0, text.length() - "\n__ggml_vocab_test__".length());
                } else if (i == cases.length - 1 && text.isEmpty()) {
                    continue;
                }
                String line = out[i].trim();
                int[] want = line.isEmpty() ? new int[0] : Arrays.stream(line.split("\\s+")).mapToInt(Integer::parseInt)
                        .toArray();
                int[] got = tok.encode(text, false);
                n++;
                if (!Arrays.equals(want, got)) {
                    bad++;
                    System.out.println(Path.of(vocab).getFileName() + " case " + i + " " + quote(text) + "\n  llama.cpp "
                            + Arrays.toString(want) + "\n  GgufVocab " + Arrays.toString(got));
                }
            }
            System.out.println(Path.of(vocab).getFileName() + ": " + (n - bad) + " of " + n + " cases equal");
            fails += bad;
            total += n;
        }
        System.out.println("total: " + (total - fails) + " of " + total + " cases equal");
        System.exit(fails == 0 ? 0 : 1);
    }

    static String quote(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t") + "\"";
    }
}
