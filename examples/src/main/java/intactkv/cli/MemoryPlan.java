package intactkv.cli;

import java.util.ArrayList;
import java.util.List;

/**
 * A command's memory estimate as a sum of named terms, known before any weight is read: each term is
 * one set of buffers that coexists with the others at the command's peak ("weights in the file's BF16",
 * "quantized codes", "KV cache"...; {@link MemoryEstimate} computes each one). The refusal quotes the
 * terms, so that a user sees which flag to change; the launcher sizes the heap from the same total
 * ({@link HeapRule}). Terms of zero bytes are left out.
 *
 * @param terms the terms in the order they were added (unmodifiable)
 */
record MemoryPlan(List<Term> terms) {
    /** One named term: {@code bytes} of {@code name}. */
    record Term(String name, long bytes) {
        Term {
            if (bytes < 0) {
                throw new IllegalArgumentException("memory term " + name + ": negative size " + bytes);
            }
        }
    }

    MemoryPlan {
        terms = List.copyOf(terms);
    }

    /** No terms yet. */
    static MemoryPlan empty() {
        return new MemoryPlan(List.of());
    }

    /** The plan of the two with the larger total: the peak of two phases that do not coexist ({@code a} on ties). */
    static MemoryPlan larger(MemoryPlan a, MemoryPlan b) {
        return b.total() > a.total() ? b : a;
    }

    /** This plan and one more term (none when {@code bytes} is 0). */
    MemoryPlan plus(String name, long bytes) {
        if (bytes == 0) {
            return this;
        }
        List<Term> t = new ArrayList<>(terms);
        t.add(new Term(name, bytes));
        return new MemoryPlan(t);
    }

    /** The sum of the terms, saturating at {@link Long#MAX_VALUE}. */
    long total() {
        long s = 0;
        for (Term t : terms) {
            s = MemoryEstimate.plus(s, t.bytes());
        }
        return s;
    }

    /** The bytes of the term named {@code name}, 0 when absent. */
    long bytes(String name) {
        return terms.stream().filter(t -> t.name().equals(name)).mapToLong(Term::bytes).sum();
    }

    /** The terms for a message: {@code weights in the file's BF16 2.0 GB + KV cache 44 MB + ...}. */
    String describe() {
        StringBuilder b = new StringBuilder();
        for (Term t : terms) {
            if (b.length() > 0) {
                b.append(" + ");
            }
            b.append(t.name()).append(' ').append(t.bytes() == Long.MAX_VALUE ? "(beyond any machine)"
                    : Memory.size(t.bytes()));
        }
        return b.toString();
    }

    /**
     * Refuses ({@link Memory#require}) when the total exceeds the heap: {@code what} names the flags that
     * size the run, followed by the terms; {@code otherwise} (null: none) is a way out besides a larger heap,
     * e.g. "add --no-kl (needs 2.3 GB)".
     */
    void require(String what, String otherwise) {
        Memory.require(what + " [" + describe() + "]", total(), otherwise);
    }
}
