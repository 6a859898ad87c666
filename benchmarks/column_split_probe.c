/* Thread decomposition of the recurrent step loop (issue 12): the
 * data-parallel split crnn uses (each thread runs half the minibatch's rows
 * through every step, no synchronisation inside the loop) against splitting
 * each step's gate columns across threads (every thread multiplies all rows
 * by its units' columns of W_hh, runs the LSTM gate pass of its units, then
 * all threads meet at a spinning barrier before the next step reads h_t).
 *
 * The step is crnn's own: the packed-weight product and the LSTM inference
 * row pass of src/crnn/_gate_rows.h at the widest SIMD level the CPU has,
 * float32. The input projection is left out: both splits run it outside
 * the loop without synchronising. This is the forward (inference) loop with
 * one barrier per step; a backward column split needs two (the carry
 * delta_t W_hh needs every thread's gate deltas), so the forward loop is
 * the column split's best case. Results in benchmarks/NOTES.md. Run on a
 * quiet machine:
 *
 *   gcc -O3 -pthread -fno-trapping-math -Isrc/crnn -o /tmp/split \
 *       benchmarks/column_split_probe.c -lm && /tmp/split
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include "_gate_rows.h"

#define MAX_THREADS 2

typedef struct {
    /* shared */
    ptrdiff_t M, H, T;
    float *H_out;             /* (T + 1) x M x H: row block t holds h_{t-1} */
    const float *W_hh;        /* 4H x H */
    const float *bias;        /* 4H */
    atomic_int arrived;
    atomic_int sense;
    int n_threads, column_split;
} shared_t;

typedef struct {
    shared_t *s;
    int id;
    float *packed, *gates, *c, *bias;
    ptrdiff_t r0, rows, u0, units;
    double seconds;
} worker_t;

/* The LSTM inference rows of the level crnn chose (they are inlined into
 * crnn_infer_step and have no dispatched names of their own): the cell
 * state of every row first, then every row's output, as the step runs them */
static void lstm_infer_rows(float *a, const float *bias, float *c, float *h, ptrdiff_t ldh,
                            ptrdiff_t rows, ptrdiff_t n) {
    for (ptrdiff_t r = 0; r < rows; r++) {
        if (crnn_simd_level == CRNN_SIMD_AVX512)
            crnn_lstm_infer_cell_row_f_avx512(a + r * 4 * n, bias, c + r * n, n);
        else if (crnn_simd_level == CRNN_SIMD_AVX2)
            crnn_lstm_infer_cell_row_f_avx2(a + r * 4 * n, bias, c + r * n, n);
        else
            crnn_lstm_infer_cell_row_f_sse2(a + r * 4 * n, bias, c + r * n, n);
    }
    for (ptrdiff_t r = 0; r < rows; r++) {
        if (crnn_simd_level == CRNN_SIMD_AVX512)
            crnn_lstm_infer_out_row_f_avx512(a + r * 4 * n, c + r * n, h + r * ldh, n);
        else if (crnn_simd_level == CRNN_SIMD_AVX2)
            crnn_lstm_infer_out_row_f_avx2(a + r * 4 * n, c + r * n, h + r * ldh, n);
        else
            crnn_lstm_infer_out_row_f_sse2(a + r * 4 * n, c + r * n, h + r * ldh, n);
    }
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void barrier(shared_t *s, int *local_sense) {
    *local_sense = !*local_sense;
    if (atomic_fetch_add(&s->arrived, 1) == s->n_threads - 1) {
        atomic_store(&s->arrived, 0);
        atomic_store(&s->sense, *local_sense);
    } else {
        while (atomic_load(&s->sense) != *local_sense) __builtin_ia32_pause();
    }
}

/* This thread's columns of W_hh (its units' i, f, g, o rows, in that
 * order) packed as B = W^T; its bias in the same order. */
static void setup(worker_t *w) {
    shared_t *s = w->s;
    ptrdiff_t H = s->H, n = w->units;
    float *W = malloc(sizeof(float) * 4 * n * H);
    w->bias = malloc(sizeof(float) * 4 * n);
    for (int g = 0; g < 4; g++)
        for (ptrdiff_t u = 0; u < n; u++) {
            memcpy(W + (g * n + u) * H, s->W_hh + (g * H + w->u0 + u) * H, sizeof(float) * H);
            w->bias[g * n + u] = s->bias[g * H + w->u0 + u];
        }
    w->packed = crnn_pack_bt_f(W, H, H, 4 * n);
    free(W);
    w->gates = malloc(sizeof(float) * w->rows * 4 * n);
    w->c = calloc(w->rows * n, sizeof(float));
}

static void *run(void *arg) {
    worker_t *w = arg;
    shared_t *s = w->s;
    ptrdiff_t M = s->M, H = s->H, n = w->units;
    int local_sense = 0;
    memset(w->c, 0, sizeof(float) * w->rows * n);
    barrier(s, &local_sense);
    double t0 = now();
    for (ptrdiff_t t = 0; t < s->T; t++) {
        const float *h_prev = s->H_out + t * M * H + w->r0 * H;
        float *h_next = s->H_out + (t + 1) * M * H + w->r0 * H;
        crnn_packed_gemm_f(w->rows, 4 * n, H, h_prev, H, w->packed, w->gates, 4 * n, 0);
        lstm_infer_rows(w->gates, w->bias, w->c, h_next + w->u0, H, w->rows, n);
        if (s->column_split) barrier(s, &local_sense);
    }
    barrier(s, &local_sense);
    w->seconds = now() - t0;
    return NULL;
}

/* Seconds per step of the loop, best of `repeats`. */
static double measure(ptrdiff_t M, ptrdiff_t H, ptrdiff_t T, int n_threads, int column_split,
                      int repeats) {
    shared_t s = {.M = M, .H = H, .T = T, .n_threads = n_threads,
                  .column_split = column_split};
    atomic_init(&s.arrived, 0);
    atomic_init(&s.sense, 0);
    float *W = malloc(sizeof(float) * 4 * H * H), *b = malloc(sizeof(float) * 4 * H);
    srand(1);
    for (ptrdiff_t i = 0; i < 4 * H * H; i++) W[i] = (rand() / (float)RAND_MAX - 0.5f) / H;
    for (ptrdiff_t i = 0; i < 4 * H; i++) b[i] = 0.1f;
    s.W_hh = W;
    s.bias = b;
    s.H_out = calloc((T + 1) * M * H, sizeof(float));
    for (ptrdiff_t i = 0; i < M * H; i++) s.H_out[i] = 0.5f;
    worker_t w[MAX_THREADS];
    for (int p = 0; p < n_threads; p++) {
        w[p] = (worker_t){.s = &s, .id = p};
        if (column_split) {
            w[p].r0 = 0, w[p].rows = M;
            w[p].u0 = H * p / n_threads, w[p].units = H * (p + 1) / n_threads - w[p].u0;
        } else {
            w[p].r0 = M * p / n_threads, w[p].rows = M * (p + 1) / n_threads - w[p].r0;
            w[p].u0 = 0, w[p].units = H;
        }
        setup(&w[p]);
    }
    double best = 1e30;
    for (int rep = 0; rep < repeats; rep++) {
        pthread_t threads[MAX_THREADS];
        for (int p = 1; p < n_threads; p++) pthread_create(&threads[p], NULL, run, &w[p]);
        run(&w[0]);
        for (int p = 1; p < n_threads; p++) pthread_join(threads[p], NULL);
        if (w[0].seconds < best) best = w[0].seconds;
    }
    for (int p = 0; p < n_threads; p++) {
        free(w[p].packed), free(w[p].gates), free(w[p].c), free(w[p].bias);
    }
    free(W), free(b), free(s.H_out);
    return best / T;
}

int main(void) {
    crnn_simd_init();
    /* workload: minibatch rows per step, hidden units, steps (SPEC 8) */
    struct { const char *name; ptrdiff_t M, H, T; } shapes[] = {
        {"W1", 32, 32, 50}, {"W2", 64, 128, 100}, {"W3", 128, 512, 100},
        {"W5", 64, 128, 400}, {"W1 predict chunk", 512, 32, 50},
    };
    printf("LSTM forward step loop, float32, SIMD level %s; microseconds per step\n",
           crnn_simd_names[crnn_simd_level]);
    printf("%-18s %5s %5s %10s %14s %14s %10s\n", "workload", "M", "H", "1 thread",
           "data-parallel", "column split", "col / dp");
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        ptrdiff_t M = shapes[i].M, H = shapes[i].H, T = shapes[i].T;
        int repeats = H >= 512 ? 20 : 200;
        double one = measure(M, H, T, 1, 0, repeats);
        double dp = measure(M, H, T, 2, 0, repeats);
        double cs = measure(M, H, T, 2, 1, repeats);
        printf("%-18s %5td %5td %10.2f %14.2f %14.2f %10.2f\n", shapes[i].name, M, H,
               1e6 * one, 1e6 * dp, 1e6 * cs, cs / dp);
    }
    /* the barrier alone: an empty step loop */
    printf("near-empty step (M = 32, H = 2), column split: %.3f us per step\n",
           1e6 * measure(32, 0 + 2, 10000, 2, 1, 20));
    return 0;
}
