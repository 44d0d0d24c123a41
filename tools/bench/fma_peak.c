/*
 * The hardware's double-precision FMA peak, as a cross-check of intactkv.bench.FmaPeak (what the
 * Vector API reaches): 12 independent chains acc = fma(acc, x, y) on 256-bit (AVX2) vectors, on
 * 1 thread and on every online CPU at once (one process per CPU, fork). Each chain's latency is
 * hidden by the others, so the loop runs at the FMA units' throughput. Timed by each process's own
 * CPU time, best of 30 rounds, so other processes of a shared machine cannot lower it.
 *
 *   gcc -O2 -mavx2 -mfma tools/bench/fma_peak.c -o /tmp/fma_peak && /tmp/fma_peak
 *
 * Prints one JSON line, GFLOP/s (2 FLOP per lane of every FMA). With --serve it measures again for each line
 * read from stdin and prints a JSON line each time (tools/bench/gemm_interleaved.py measures the peak between
 * products that way).
 */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHAINS 12
#define ITERATIONS (1L << 22)

static double best_gflops(void) {
    __m256d x = _mm256_set1_pd(0.999999), y = _mm256_set1_pd(1e-6);
    __m256d a[CHAINS];
    for (int i = 0; i < CHAINS; i++) a[i] = _mm256_set1_pd(i);
    double best = 0;
    for (int r = 0; r < 30; r++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
        for (long it = 0; it < ITERATIONS; it++) {
#pragma GCC unroll 12
            for (int i = 0; i < CHAINS; i++) a[i] = _mm256_fmadd_pd(a[i], x, y);
        }
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
        double s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
        double g = 2.0 * CHAINS * 4 * ITERATIONS / s / 1e9;
        if (g > best) best = g;
    }
    double sink[4];
    __m256d s = a[0];
    for (int i = 1; i < CHAINS; i++) s = _mm256_add_pd(s, a[i]);
    _mm256_storeu_pd(sink, s);
    if (sink[0] != sink[0]) best = -1; /* NaN: the chains diverged */
    return best;
}

/* The peak on one core (this process) and on every online CPU at once (one forked process each, summed). */
static void measure(double *one, double *all, long *cores) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int fds[64][2];
    if (cpus > 64) cpus = 64;
    *one = best_gflops();
    for (long c = 0; c < cpus; c++) {
        if (pipe(fds[c]) != 0) exit(1);
        if (fork() == 0) {
            double g = best_gflops();
            if (write(fds[c][1], &g, sizeof g) != sizeof g) _exit(1);
            _exit(0);
        }
    }
    *all = 0;
    for (long c = 0; c < cpus; c++) {
        double g = 0;
        if (read(fds[c][0], &g, sizeof g) != sizeof g) exit(1);
        close(fds[c][0]);
        close(fds[c][1]);
        *all += g;
    }
    while (wait(NULL) > 0) {
    }
    *cores = cpus;
}
int main(int argc, char **argv) {
    int serve = argc > 1 && strcmp(argv[1], "--serve") == 0;
    char line[64];
    do {
        if (serve && fgets(line, sizeof line, stdin) == NULL) return 0;
        double one, all;
        long cpus;
        measure(&one, &all, &cpus);
        printf("{\"bench\": \"fma_peak_c\", \"lanes\": 4, \"chains\": %d, \"cores\": %ld, \"gflops_1_cpu\": %.1f,"
               " \"gflops_all_cpu\": %.1f}\n", CHAINS, cpus, one, all);
        fflush(stdout);
    } while (serve);
    return 0;
}
