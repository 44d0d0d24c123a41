package intactkv.cli;

/** Flag checks shared by the commands: a refusal names the flag and its value, before any work. */
final class Flags {
    private Flags() {
    }

    /** Refuses with {@code message} (which names the flag, its range and the value given) unless {@code ok}. */
    static void require(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }
}
