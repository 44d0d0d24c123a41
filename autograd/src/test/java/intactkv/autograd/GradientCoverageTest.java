package intactkv.autograd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.net.URISyntaxException;
import java.net.URL;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * Meta-test: every public static method returning a {@link Value} in this package's main
 * classes is a differentiable operation and must be named by a {@link ChecksGradientOf} test.
 * Both sides are found by reflection over the compiled class directories, so adding an op
 * without a gradient test fails here.
 */
class GradientCoverageTest {
    @Test
    void everyDifferentiableOpHasAGradientTest() throws Exception {
        Set<String> ops = new TreeSet<>();
        Set<String> tested = new TreeSet<>();
        for (Class<?> c : classesIn(Value.class)) {
            for (Method m : c.getDeclaredMethods()) {
                int mod = m.getModifiers();
                if (Modifier.isPublic(mod) && Modifier.isStatic(mod) && m.getReturnType() == Value.class
                        && !Set.of("param", "constant", "result").contains(m.getName())) {
                    ops.add(c.getSimpleName() + "." + m.getName());
                }
            }
        }
        for (Class<?> c : classesIn(GradientCoverageTest.class)) {
            for (Method m : c.getDeclaredMethods()) {
                ChecksGradientOf a = m.getAnnotation(ChecksGradientOf.class);
                if (a != null) {
                    tested.addAll(List.of(a.value()));
                }
            }
        }
        assertTrue(ops.size() >= 25, "found only " + ops.size() + " ops: " + ops);
        Set<String> missing = new TreeSet<>(ops);
        missing.removeAll(tested);
        assertEquals(Set.of(), missing, "differentiable ops without a gradient test");
        Set<String> stale = new TreeSet<>(tested);
        stale.removeAll(ops);
        assertEquals(Set.of(), stale, "gradient tests naming ops that do not exist");
    }

    /** Top-level classes of {@code anchor}'s package in the directory {@code anchor} was loaded from. */
    private static List<Class<?>> classesIn(Class<?> anchor) throws URISyntaxException, ClassNotFoundException {
        URL url = anchor.getResource(anchor.getSimpleName() + ".class");
        File dir = new File(url.toURI()).getParentFile();
        String[] names = dir.list((d, n) -> n.endsWith(".class") && !n.contains("$"));
        List<Class<?>> out = new java.util.ArrayList<>();
        for (String n : java.util.Objects.requireNonNull(names)) {
            out.add(Class.forName(anchor.getPackageName() + "." + n.substring(0, n.length() - 6)));
        }
        return out;
    }
}
