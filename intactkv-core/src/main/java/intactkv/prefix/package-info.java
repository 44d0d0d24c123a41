/**
 * IntactKV itself: generating the lossless pivot-token prefix (IntactKV_[B], IntactKV_[P])
 * from the full-precision model, using it at inference, calibrating it as trainable
 * parameters, the perplexity protocol and pivot-token analysis. Not yet implemented: filled
 * by the IntactKV issue.
 */
package intactkv.prefix;
