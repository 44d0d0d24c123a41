/**
 * A reverse-mode automatic differentiation engine over {@link intactkv.tensor.Tensor}.
 *
 * <h2>Engine rules</h2>
 * Each rule has a small exact test in {@code EngineRulesTest}.
 * <ol>
 *   <li><b>Recording.</b> An operation records a graph node only when gradient mode is on
 *       and at least one input {@linkplain Value#requiresGrad() requires a gradient};
 *       otherwise its result is a plain constant and inference pays nothing
 *       ({@link GradMode#noGrad()} switches recording off for a block).</li>
 *   <li><b>Order.</b> {@link Value#backward} visits nodes in reverse topological order,
 *       found by an iterative depth-first search that follows each node's inputs in
 *       argument order, so the order (and every floating-point sum) is deterministic.</li>
 *   <li><b>Accumulation.</b> Gradients are added, never overwritten: a value used twice
 *       (fan-out) receives the sum of both contributions, and a second
 *       {@code backward} adds to the leaves' gradients until {@link Value#zeroGrad()}.</li>
 *   <li><b>Broadcasting.</b> An input that was broadcast receives its gradient summed back
 *       to its own shape ({@link intactkv.tensor.Reduce#sumTo}).</li>
 *   <li><b>Seed.</b> {@code backward()} without an upstream gradient is allowed only for a
 *       one-element output (seed 1); otherwise the caller passes the upstream gradient.</li>
 *   <li><b>Detach.</b> {@link Value#detach()} returns the same data as a constant: no
 *       gradient flows through it.</li>
 * </ol>
 *
 * <h2>Where the operations are</h2>
 * Primitives, each with its forward and backward side by side: {@link Arithmetic},
 * {@link Pointwise}, {@link Reductions}, {@link LinearAlgebra}, {@link Shaping},
 * {@link Selection}, {@link QuantOps}. Composites built only from those primitives:
 * {@link Functional} (SiLU, softmax, log-softmax, RMSNorm, RoPE, cross-entropy, MSE).
 * Optimisers and schedules: {@link AdamW}, {@link Sgd}, {@link GradClip},
 * {@link LrSchedule}. The gradient checker every op test uses is {@link GradCheck}.
 */
package intactkv.autograd;
