/**
 * A small n-dimensional tensor library on {@code double[]} row-major storage.
 *
 * <p>Every tensor is contiguous: operations that change the layout (transpose, slice,
 * concat) copy, and only {@link intactkv.tensor.Tensor#reshape} shares storage. That
 * keeps every kernel a plain loop over a flat array, which is what a reader auditing the
 * numerics wants to see. This module knows nothing about gradients; the {@code autograd}
 * module builds on it. A weight may be held in a compact {@link intactkv.tensor.WeightStorage}
 * (its file's BF16/F16/F32, or quantization codes) and becomes double where the matrix kernels
 * pack it and the embedding lookup copies it, with the same results.
 *
 * <h2>Glossary of shape symbols</h2>
 * Used in the Javadoc of every module, defined once here:
 * <ul>
 *   <li>{@code B}: batch (number of sequences), {@code T}: tokens in a sequence,</li>
 *   <li>{@code d}: model (hidden) dimension, {@code d_ff}: MLP intermediate dimension,</li>
 *   <li>{@code h}: attention heads, {@code h_kv}: key/value heads (GQA),
 *       {@code d_h = d / h}: head dimension,</li>
 *   <li>{@code V}: vocabulary size, {@code L}: decoder layers,</li>
 *   <li>{@code g}: quantization group size, {@code p}: IntactKV prefix length,</li>
 *   <li>{@code M, K, N}: generic matrix dimensions, {@code C = A B} with A (M, K), B (K, N).</li>
 * </ul>
 *
 * <h2>Conventions</h2>
 * Arguments are never modified unless a method's Javadoc says <em>modified</em>. Shape
 * errors throw {@link java.lang.IllegalArgumentException} naming the operation and both
 * shapes. Results do not depend on the number of threads (see {@link intactkv.tensor.Parallel}).
 */
package intactkv.tensor;
