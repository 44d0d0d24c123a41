package intactkv.model.io;

import java.io.IOException;

/**
 * A file the project cannot read because of what is in it (not because it cannot be opened):
 * the message is {@code SOURCE: WHAT}, where SOURCE is the file (and line, for line-oriented
 * files) and WHAT names the field, tensor or value that is wrong. Every parser of the project
 * (safetensors, index.json, config.json, tokenizer.json, quant_config.json, prefix files,
 * ShareGPT and multiple-choice JSONL, plain data files) throws it, and only it, for malformed
 * content; the fuzzing properties in the tests hold them to that (docs/RELIABILITY.md).
 */
public final class FormatException extends IOException {
    private final String source;

    /** @param source the file, or {@code file:line}; @param what what is wrong, naming the field or tensor */
    public FormatException(Object source, String what) {
        super(source + ": " + what);
        this.source = String.valueOf(source);
    }

    public FormatException(Object source, String what, Throwable cause) {
        super(source + ": " + what, cause);
        this.source = String.valueOf(source);
    }

    /** The file (or file:line) the message starts with. */
    public String source() {
        return source;
    }
}
