package intactkv.model.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

/** FastChat's vicuna_v1.1 get_prompt (ADD_COLON_TWO, sep " ", sep2 "</s>") for one and two turns, written out by hand. */
class ChatTemplateTest {
    static final String SYS = ChatTemplate.VICUNA_SYSTEM;

    @Test
    void conversationPrompts() {
        assertEquals(ChatTemplate.vicunaPrompt("Hi"), ChatTemplate.vicunaConversation(List.of("Hi"), List.of()));
        assertEquals(SYS + " USER: Hi ASSISTANT: Hello.</s>USER: And? ASSISTANT:",
                ChatTemplate.vicunaConversation(List.of("Hi", "And?"), List.of("Hello.")));
        // FastChat's `if message:`: an empty answer is "ASSISTANT:" with no separator after it
        assertEquals(SYS + " USER: Hi ASSISTANT:USER: And? ASSISTANT:",
                ChatTemplate.vicunaConversation(List.of("Hi", "And?"), List.of("")));
        assertEquals("</s>", ChatTemplate.VICUNA_STOP);
        assertThrows(IllegalArgumentException.class, () -> ChatTemplate.vicunaConversation(List.of("a"), List.of("b")));
    }
}
