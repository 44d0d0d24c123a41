package intactkv.autograd;

/**
 * Whether operations record a graph, per thread; on by default. Like {@code torch.no_grad()}:
 * <pre>
 *   try (GradMode.Scope s = GradMode.noGrad()) {
 *       ... inference: no graph is recorded, nothing is kept for backward ...
 *   }
 * </pre>
 * The mode changes what is recorded, never the numbers computed.
 */
public final class GradMode {
    private static final ThreadLocal<int[]> DISABLED_DEPTH = ThreadLocal.withInitial(() -> new int[1]);

    private GradMode() {
    }

    /** A no-grad block; closing it restores the previous mode. */
    public interface Scope extends AutoCloseable {
        @Override
        void close();
    }

    /** Whether operations on this thread currently record a graph. */
    public static boolean enabled() {
        return DISABLED_DEPTH.get()[0] == 0;
    }

    /** Switches recording off until the returned scope is closed (scopes nest). */
    public static Scope noGrad() {
        int[] depth = DISABLED_DEPTH.get();
        depth[0]++;
        return new Scope() {
            private boolean closed;

            @Override
            public void close() {
                if (!closed) {
                    closed = true;
                    depth[0]--;
                }
            }
        };
    }
}
