/*
 * quant_rows: float32 rows in, ggml_quantize_chunk's bytes out (no importance matrix), the C
 * oracle for intactkv.model.gguf.GgmlQuantize. Usage:
 *   quant_rows TYPE NROWS N_PER_ROW IN.f32 OUT.bin
 * TYPE is a ggml type name as ggml_type_name spells it in lower case (q4_0, q4_K, iq4_nl, f16...).
 * IN.f32 holds NROWS * N_PER_ROW little-endian float32 values; OUT.bin receives
 * NROWS * ggml_row_size(TYPE, N_PER_ROW) bytes. Built by tools/gguf/quant_fixtures.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ggml.h"

static enum ggml_type type_named(const char * name) {
    for (int t = 0; t < GGML_TYPE_COUNT; t++) {
        const char * n = ggml_type_name((enum ggml_type) t);
        if (n != NULL && strcmp(n, name) == 0) {
            return (enum ggml_type) t;
        }
    }
    fprintf(stderr, "quant_rows: unknown ggml type '%s'\n", name);
    exit(2);
}

int main(int argc, char ** argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: quant_rows TYPE NROWS N_PER_ROW IN.f32 OUT.bin\n");
        return 2;
    }
    enum ggml_type type = type_named(argv[1]);
    long nrows = atol(argv[2]);
    long n_per_row = atol(argv[3]);
    long n = nrows * n_per_row;
    if (nrows <= 0 || n_per_row <= 0 || n_per_row % ggml_blck_size(type) != 0) {
        fprintf(stderr, "quant_rows: bad shape %ld x %ld for %s\n", nrows, n_per_row, argv[1]);
        return 2;
    }
    float * src = malloc(n * sizeof(float));
    FILE * in = fopen(argv[4], "rb");
    if (in == NULL || fread(src, sizeof(float), n, in) != (size_t) n) {
        fprintf(stderr, "quant_rows: cannot read %ld floats from %s\n", n, argv[4]);
        return 1;
    }
    fclose(in);
    size_t size = nrows * ggml_row_size(type, n_per_row);
    void * dst = calloc(size, 1);
    size_t written = ggml_quantize_chunk(type, src, dst, 0, nrows, n_per_row, NULL);
    if (written != size) {
        fprintf(stderr, "quant_rows: wrote %zu bytes, expected %zu\n", written, size);
        return 1;
    }
    FILE * out = fopen(argv[5], "wb");
    if (out == NULL || fwrite(dst, 1, size, out) != size || fclose(out) != 0) {
        fprintf(stderr, "quant_rows: cannot write %s\n", argv[5]);
        return 1;
    }
    free(src);
    free(dst);
    return 0;
}
