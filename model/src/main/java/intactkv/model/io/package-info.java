/**
 * File formats: safetensors (reader, writer, sharded checkpoints) and atomic file writing.
 * Every reader validates before it allocates and names the file and the tensor or field in
 * its errors; every writer writes a temporary file and renames it into place.
 */
package intactkv.model.io;
