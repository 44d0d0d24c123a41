package intactkv.prefix;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import intactkv.model.io.FormatException;
import intactkv.model.text.ChatTemplate;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The official ShareGPT selection and Vicuna formatting ({@code utils/sharegpt.py}). */
class ShareGptSelectionTest {
    @TempDir
    Path tmp;

    /** The fixture's toy tokenizer: whitespace words, id = 3 + (sum of code points) % 997. */
    static int[] toy(String text) {
        String t = text.strip();
        if (t.isEmpty()) {
            return new int[0];
        }
        return Arrays.stream(t.split("\\s+")).mapToInt(w -> 3 + w.codePoints().sum() % 997).toArray();
    }

    static ShareGptConversation conv(String... fromValue) {
        List<ShareGptConversation.Turn> turns = new java.util.ArrayList<>();
        for (int i = 0; i < fromValue.length; i += 2) {
            turns.add(new ShareGptConversation.Turn(fromValue[i], fromValue[i + 1]));
        }
        return new ShareGptConversation("c", turns, 0, "test.json", "[0].");
    }

    /** Against {@code tools/oracle/sharegpt_selection_fixture.py}: the same conversations, order, ids and loss positions. */
    @Test
    void selectionMatchesTheOfficialLogicInPython() throws Exception {
        Path dir = Path.of(getClass().getResource("/oracle/sharegpt").toURI());
        JsonObject fx = JsonParser.parseString(Files.readString(dir.resolve("sharegpt_selection.json"))).getAsJsonObject();
        JsonObject set = fx.getAsJsonObject("settings");
        List<ShareGptConversation> data = ShareGptConversation.read(dir.resolve("sharegpt_toy.json"));
        assertEquals(40, data.size());
        ShareGptSelection.Settings st = new ShareGptSelection.Settings(set.get("samples").getAsInt(),
                set.get("max_seq_len").getAsInt(), set.get("min_gpt_len").getAsInt(), set.get("seed").getAsLong(),
                set.get("max_message_tokens").getAsInt());
        ShareGptSelection.Selection sel = ShareGptSelection.select(data, ShareGptSelectionTest::toy,
                set.get("bos").getAsInt(), st, "toy");
        JsonArray expected = fx.getAsJsonArray("selected");
        assertEquals(fx.get("examined").getAsInt(), sel.examined());
        assertTrue(sel.examined() > expected.size(), "the fixture skips conversations with <= 50 assistant tokens");
        assertEquals(expected.size(), sel.samples().size());
        for (int i = 0; i < expected.size(); i++) {
            JsonObject e = expected.get(i).getAsJsonObject();
            assertEquals(e.get("index").getAsInt(), sel.chosen().get(i).index(), "sample " + i);
            assertEquals(e.get("id").getAsString(), sel.chosen().get(i).id());
            assertArrayEquals(ints(e.getAsJsonArray("input_ids")), sel.samples().get(i).ids(), "input_ids of " + i);
            assertArrayEquals(ints(e.getAsJsonArray("gpt_masks")), sel.samples().get(i).counted(), "gpt_masks of " + i);
        }
    }

    static int[] ints(JsonArray a) {
        int[] out = new int[a.size()];
        int i = 0;
        for (JsonElement e : a) {
            out[i++] = e.getAsInt();
        }
        return out;
    }

    /** The official message layout, hand-checked with the toy tokenizer. */
    @Test
    void eachMessageIsTokenizedOnItsOwnWithoutEos() throws Exception {
        ShareGptConversation c = conv("gpt", "dropped greeting", "human", "hi there", "gpt", "an answer",
                "human", "", "gpt", "", "human", "more", "gpt", "last one");
        VicunaConversation.Tokens t = VicunaConversation.format(c, ShareGptSelectionTest::toy, 1, 1024, 4096);
        int[] sys = toy(ChatTemplate.VICUNA_SYSTEM);
        int[] first = toy(ChatTemplate.VICUNA_SYSTEM + " USER: hi there ASSISTANT:");
        assertArrayEquals(Arrays.copyOf(first, sys.length), sys, "the system prompt opens the first message");
        int[] expected = concat(new int[] {1}, first, toy("an answer"), toy("USER: more ASSISTANT:"), toy("last one"));
        assertArrayEquals(expected, t.ids());
        int a = 1 + first.length;
        int b = a + 2 + 3; // "an answer", then nothing for the empty turns, then "USER: more ASSISTANT:"
        assertArrayEquals(new int[] {a, a + 1, b, b + 1}, t.assistant());
        assertTrue(Arrays.stream(t.ids()).noneMatch(id -> id == 2), "no </s> after answers");
        // the sequence cut after the first answer token, and a message cut to 3 tokens
        VicunaConversation.Tokens cut = VicunaConversation.format(c, ShareGptSelectionTest::toy, 1, a + 1, 4096);
        assertArrayEquals(Arrays.copyOf(expected, a + 1), cut.ids());
        assertArrayEquals(new int[] {a}, cut.assistant());
        VicunaConversation.Tokens capped = VicunaConversation.format(conv("human", "q", "gpt", "w1 w2 w3 w4 w5"),
                ShareGptSelectionTest::toy, 1, 1024, 3);
        assertEquals(1 + 3 + 3, capped.ids().length);
        assertArrayEquals(new int[] {4, 5, 6}, capped.assistant());
    }

    static int[] concat(int[]... parts) {
        return Arrays.stream(parts).flatMapToInt(Arrays::stream).toArray();
    }

    @Test
    void conversationsTheOfficialCannotFormatAreRefusedByName() {
        String[][] bad = {{"human", "q", "bing", "a"}, {"gpt", "only an answer"}, {"human", "q", "human", "again"},
            {"human", "q", "gpt", "a", "gpt", "a"}};
        String[] says = {"'[0].conversations[1].from' is \"bing\"", "no turn with \"from\": \"human\"",
            "'[0].conversations[1].from' is \"human\" where \"gpt\" is due",
            "'[0].conversations[2].from' is \"gpt\" where \"human\" is due"};
        for (int i = 0; i < bad.length; i++) {
            String[] b = bad[i];
            FormatException e = assertThrows(FormatException.class,
                    () -> VicunaConversation.format(conv(b), ShareGptSelectionTest::toy, 1, 1024, 4096));
            assertTrue(e.getMessage().startsWith("test.json: conversation 'c' (record 0)")
                    && e.getMessage().contains(says[i]), e.getMessage());
        }
        // no gpt turn: no assistant tokens, so it is never kept (the official would stop in torch.cat)
        assertArrayEquals(new int[0], assertDoesNotThrowTokens(conv("human", "a question")).assistant());
    }

    static VicunaConversation.Tokens assertDoesNotThrowTokens(ShareGptConversation c) {
        try {
            return VicunaConversation.format(c, ShareGptSelectionTest::toy, 1, 1024, 4096);
        } catch (FormatException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void tooFewUsableConversationsAreRefused() throws Exception {
        String answer = "w ".repeat(60);
        Path f = tmp.resolve("few.jsonl");
        Files.writeString(f, "{\"conversations\": [{\"from\": \"human\", \"value\": \"q\"}, {\"from\": \"gpt\", \"value\": \""
                + answer + "\"}]}\n\n{\"conversations\": [{\"from\": \"human\", \"value\": \"q\"}, {\"from\": \"gpt\","
                + " \"value\": \"short\"}]}\n");
        List<ShareGptConversation> data = ShareGptConversation.read(f);
        assertEquals(2, data.size());
        assertEquals(1, ShareGptSelection.select(data, ShareGptSelectionTest::toy, 1,
                ShareGptSelection.Settings.official(1, 1024), f.toString()).samples().size());
        FormatException e = assertThrows(FormatException.class, () -> ShareGptSelection.select(data,
                ShareGptSelectionTest::toy, 1, ShareGptSelection.Settings.official(2, 1024), f.toString()));
        assertTrue(e.getMessage().startsWith(f + ": only 1 of the 2 conversations have more than 50 assistant tokens"
                + " within 1024 tokens; --samples asks for 2"), e.getMessage());
        // cut to 50 tokens, the system prompt and question leave fewer than 50 of the answer's
        FormatException none = assertThrows(FormatException.class, () -> ShareGptSelection.select(data,
                ShareGptSelectionTest::toy, 1, ShareGptSelection.Settings.official(1, 50), f.toString()));
        assertTrue(none.getMessage().contains("no conversation of the 2 has"), none.getMessage());
    }

    /**
     * When too few conversations qualify, the refusal says why, conversation by kind: no assistant
     * tokens at all (no gpt turn), too few in all, or enough only beyond the --seqlen cut; and for
     * the last, the smallest --seqlen that keeps one (exact: that length selects it, one less does not).
     */
    @Test
    void tooFewConversationsSayWhy() throws Exception {
        String answer = "w ".repeat(60);
        List<ShareGptConversation> data = List.of(conv("human", "q", "gpt", answer), conv("human", "only a question"),
                conv("human", "q", "gpt", "short"));
        FormatException e = assertThrows(FormatException.class, () -> ShareGptSelection.select(data,
                ShareGptSelectionTest::toy, 1, ShareGptSelection.Settings.official(1, 50), "f.jsonl"));
        // toy tokens: [BOS], the 23 words of the system prompt, "USER: q ASSISTANT:" (3): the answer starts at 27
        assertTrue(e.getMessage().startsWith("f.jsonl: no conversation of the 3 has more than 50 assistant tokens within"
                + " 50 tokens"), e.getMessage());
        assertTrue(e.getMessage().contains("; 1 has no assistant tokens (no \"gpt\" turn"), e.getMessage());
        assertTrue(e.getMessage().contains("; 1 has 50 or fewer assistant tokens in all"), e.getMessage());
        assertTrue(e.getMessage().contains("; 1 would qualify uncut, but --seqlen 50 cuts it"), e.getMessage());
        assertTrue(e.getMessage().contains("the earliest answer starts at token 27, so use --seqlen 78 or more"),
                e.getMessage());
        assertEquals(1, ShareGptSelection.select(data, ShareGptSelectionTest::toy, 1,
                ShareGptSelection.Settings.official(1, 78), "f.jsonl").samples().size());
        assertThrows(FormatException.class, () -> ShareGptSelection.select(data, ShareGptSelectionTest::toy, 1,
                ShareGptSelection.Settings.official(1, 77), "f.jsonl"));
        // conversations without any answer: said so, with what to do
        FormatException none = assertThrows(FormatException.class, () -> ShareGptSelection.select(
                List.of(conv("human", "a question"), conv("human", "q", "gpt", "")), ShareGptSelectionTest::toy, 1,
                ShareGptSelection.Settings.official(1, 1024), "g.jsonl"));
        assertTrue(none.getMessage().contains("; 2 have no assistant tokens (no \"gpt\" turn with text after a"
                + " \"human\" one: add the answers"), none.getMessage());
    }

    /** A system turn (which the official preprocess cannot format) is refused with what to do. */
    @Test
    void aSystemTurnIsRefusedWithWhatToDo() {
        FormatException e = assertThrows(FormatException.class, () -> ShareGptSelection.select(
                List.of(conv("system", "be brief")), ShareGptSelectionTest::toy, 1,
                ShareGptSelection.Settings.official(1, 1024), "s.jsonl"));
        assertTrue(e.getMessage().startsWith("test.json: conversation 'c' (record 0): '[0].conversations[0].from' is"
                + " \"system\"; the official preprocess knows only \"human\" and \"gpt\" (remove the system turn:"
                + " every conversation gets the Vicuna system prompt)"), e.getMessage());
        assertTrue(!e.getMessage().contains("prefix"), "not a prefix mismatch: " + e.getMessage());
    }

    @Test
    void fileErrorsNameTheRecordAndField() throws Exception {
        Path a = tmp.resolve("bad.json");
        Files.writeString(a, "[{\"conversations\": [{\"from\": \"human\", \"value\": 3}]}]");
        FormatException e = assertThrows(FormatException.class, () -> ShareGptConversation.read(a));
        assertTrue(e.getMessage().startsWith(a + ": ") && e.getMessage().contains("'[0].conversations[0].value'"),
                e.getMessage());
        Files.writeString(a, "[]");
        e = assertThrows(FormatException.class, () -> ShareGptConversation.read(a));
        assertTrue(e.getMessage().contains("no conversation"), e.getMessage());
        Files.writeString(a, "[{\"id\": \"x\"}]");
        e = assertThrows(FormatException.class, () -> ShareGptConversation.read(a));
        assertTrue(e.getMessage().contains("missing field '[0].conversations'"), e.getMessage());
        Files.writeString(a, "[{\"conversations\": []}, 3]");
        e = assertThrows(FormatException.class, () -> ShareGptConversation.read(a));
        assertTrue(e.getMessage().contains("'[1]' must be an object, got 3"), e.getMessage());
        Path l = tmp.resolve("bad.jsonl");
        Files.writeString(l, "{\"conversations\": []}\n{\"conversations\": [{\"from\": \"human\"}]}\n");
        e = assertThrows(FormatException.class, () -> ShareGptConversation.read(l));
        assertTrue(e.getMessage().startsWith(l + ":2: ") && e.getMessage().contains("conversations[0].value"),
                e.getMessage());
    }

    @Test
    void samplesThatDoNotStartWithThePrefixAreRefused() throws Exception {
        String answer = "w ".repeat(60);
        List<ShareGptConversation> data = List.of(new ShareGptConversation("abc", List.of(
                new ShareGptConversation.Turn("human", "q"), new ShareGptConversation.Turn("gpt", answer)), 0, "f.json",
                "[0]."));
        ShareGptSelection.Selection sel = ShareGptSelection.select(data, ShareGptSelectionTest::toy, 1,
                ShareGptSelection.Settings.official(1, 1024), "f.json");
        int[] ids = sel.samples().get(0).ids();
        sel.requirePrefix(Arrays.copyOf(ids, 5), "prefix");
        int[] other = Arrays.copyOf(ids, 5);
        other[3]++;
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> sel.requirePrefix(other, "IntactKV_[P] prefix"));
        assertTrue(e.getMessage().startsWith("f.json: conversation 'abc' (record 0) does not start with the IntactKV_[P]"
                + " prefix ids (5 tokens): they differ at position 3"), e.getMessage());
        int firstAnswer = sel.samples().get(0).counted()[0];
        e = assertThrows(IllegalArgumentException.class,
                () -> sel.requirePrefix(Arrays.copyOf(ids, firstAnswer + 1), "long prefix"));
        assertTrue(e.getMessage().contains("inside the long prefix"), e.getMessage());
    }
}
