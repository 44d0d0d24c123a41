package intactkv.theory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The layering of docs/ARCHITECTURE.md holds in the code: no module uses a module above it.
 *
 * <p>{@link #LAYERS} is the table of that page: each Maven module and the project modules it may
 * use (directly or through another). Checked against the build and the sources:
 * <ol>
 *   <li>the root pom's module list is exactly the table's modules;</li>
 *   <li>each module's pom, followed through its project dependencies, reaches exactly the
 *       modules the table allows it (so the table cannot drift from the build);</li>
 *   <li>each package is declared by one module only (a package split across modules would
 *       hide which module a reference goes to);</li>
 *   <li>every reference in a module's main and test sources to a project class
 *       ({@code import intactkv.x.Y}, a fully qualified {@code intactkv.x.Y} in code or Javadoc)
 *       names a class of the module itself or of a module the table allows.</li>
 * </ol>
 * Maven would refuse an import of a module that is not a dependency at compile time; this test
 * also fails when a dependency is added upward in a pom, which Maven accepts as long as it
 * makes no cycle.
 */
class ModuleLayeringTest {
    /** The project root: the tests run in theory-checks/. */
    static final Path ROOT = Path.of("..");

    /** Module -> the modules it may use, directly or not (docs/ARCHITECTURE.md, "Modules"). */
    static final Map<String, Set<String>> LAYERS = new LinkedHashMap<>();

    static {
        LAYERS.put("tensor", Set.of());
        LAYERS.put("autograd", Set.of("tensor"));
        LAYERS.put("model", Set.of("tensor", "autograd"));
        LAYERS.put("train", Set.of("tensor", "autograd", "model"));
        LAYERS.put("quant", Set.of("tensor", "autograd", "model"));
        LAYERS.put("intactkv-core", Set.of("tensor", "autograd", "model", "train", "quant"));
        LAYERS.put("theory-checks", Set.of("tensor", "autograd", "model", "train", "quant", "intactkv-core"));
        LAYERS.put("examples", Set.of("tensor", "autograd", "model", "train", "quant", "intactkv-core",
                "theory-checks"));
        LAYERS.put("benchmarks", Set.of("tensor", "autograd", "model", "train", "quant", "intactkv-core"));
    }

    private static final Pattern MODULE = Pattern.compile("<module>([^<]+)</module>");
    private static final Pattern ARTIFACT = Pattern.compile("<artifactId>(intactkv-[a-z-]+)</artifactId>");
    private static final Pattern PACKAGE = Pattern.compile("^package ([a-z.]+);", Pattern.MULTILINE);
    /** A reference to a project class: the package (lower-case segments) and the class's first letter. */
    private static final Pattern REFERENCE = Pattern.compile("\\b(intactkv(?:\\.[a-z][a-z0-9]*)+)\\.[A-Z]");

    @Test
    void theRootPomListsTheTablesModules() throws IOException {
        List<String> modules = new ArrayList<>();
        Matcher m = MODULE.matcher(read(ROOT.resolve("pom.xml")));
        while (m.find()) {
            modules.add(m.group(1));
        }
        assertEquals(new TreeSet<>(LAYERS.keySet()), new TreeSet<>(modules));
    }

    @Test
    void eachPomReachesExactlyWhatTheTableAllows() throws IOException {
        Map<String, String> byArtifact = new TreeMap<>();
        Map<String, Set<String>> direct = new TreeMap<>();
        for (String module : LAYERS.keySet()) {
            List<String> artifacts = artifacts(module);
            byArtifact.put(artifacts.get(0), module);
            direct.put(module, new TreeSet<>(artifacts.subList(1, artifacts.size())));
        }
        for (String module : LAYERS.keySet()) {
            Set<String> reached = new TreeSet<>();
            List<String> todo = new ArrayList<>(direct.get(module));
            while (!todo.isEmpty()) {
                String a = todo.remove(todo.size() - 1);
                String dep = byArtifact.get(a);
                assertTrue(dep != null, module + "/pom.xml depends on " + a + ", which no module of the table builds");
                if (reached.add(dep)) {
                    todo.addAll(direct.get(dep));
                }
            }
            assertEquals(new TreeSet<>(LAYERS.get(module)), reached, module + "/pom.xml's project dependencies");
        }
    }

    @Test
    void noModuleUsesAModuleAboveIt() throws IOException {
        Map<String, String> owner = new TreeMap<>(); // package -> module
        Map<String, String> sources = new TreeMap<>(); // file -> text
        for (String module : LAYERS.keySet()) {
            for (Path f : javaFiles(module)) {
                String text = read(f);
                sources.put(f.toString(), text);
                Matcher p = PACKAGE.matcher(text);
                assertTrue(p.find(), f + " has a package declaration");
                String was = owner.putIfAbsent(p.group(1), module);
                assertTrue(was == null || was.equals(module), "package " + p.group(1) + " is declared by both "
                        + was + " and " + module + " (" + f + ")");
            }
        }
        List<String> violations = new ArrayList<>();
        int references = 0;
        for (String module : LAYERS.keySet()) {
            for (Path f : javaFiles(module)) {
                Matcher r = REFERENCE.matcher(sources.get(f.toString()));
                while (r.find()) {
                    String target = ownerOf(r.group(1), owner);
                    if (target == null) {
                        continue; // not a package of the project (e.g. a resource path spelled like one)
                    }
                    references++;
                    if (!target.equals(module) && !LAYERS.get(module).contains(target)) {
                        violations.add(f + " uses " + r.group(1) + " (module " + target + ")");
                    }
                }
            }
        }
        assertTrue(references > 1000, "the scan found the project's references: " + references);
        assertEquals(List.of(), violations, "references to a module the table does not allow");
    }

    /** The module of the longest declared package that {@code pkg} is or is inside of; null if none. */
    private static String ownerOf(String pkg, Map<String, String> owner) {
        for (String p = pkg; ; p = p.substring(0, p.lastIndexOf('.'))) {
            String m = owner.get(p);
            if (m != null) {
                return m;
            }
            if (p.indexOf('.') < 0) {
                return null;
            }
        }
    }

    /** The module's own artifact first, then the project artifacts it depends on. */
    private static List<String> artifacts(String module) throws IOException {
        String pom = read(ROOT.resolve(module).resolve("pom.xml"));
        pom = pom.substring(pom.indexOf("</parent>")); // the parent's artifactId is not the module's
        List<String> out = new ArrayList<>();
        Matcher m = ARTIFACT.matcher(pom);
        while (m.find()) {
            out.add(m.group(1));
        }
        return out;
    }

    private static List<Path> javaFiles(String module) throws IOException {
        List<Path> out = new ArrayList<>();
        for (String kind : new String[] {"main", "test"}) {
            Path root = ROOT.resolve(module).resolve("src").resolve(kind).resolve("java");
            if (Files.isDirectory(root)) {
                try (Stream<Path> s = Files.walk(root)) {
                    s.filter(p -> p.toString().endsWith(".java")).sorted().forEach(out::add);
                }
            }
        }
        return out;
    }

    private static String read(Path f) throws IOException {
        return Files.readString(f, StandardCharsets.UTF_8);
    }
}
