/**
 * JMH benchmarks. Build with {@code mvn -pl benchmarks -am package -DskipTests} and run
 * {@code java --add-modules jdk.incubator.vector -jar benchmarks/target/benchmarks.jar}; the
 * numbers and how they compare with PyTorch are in {@code docs/PERFORMANCE.md}.
 */
package intactkv.bench;
