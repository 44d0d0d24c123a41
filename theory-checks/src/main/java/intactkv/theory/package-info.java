/**
 * The attention-error bound behind IntactKV: statement, proof (in the module README) and
 * the code that evaluates it; property tests live in this module's tests. Not yet
 * implemented: filled by the theory-checks issue.
 */
package intactkv.theory;
