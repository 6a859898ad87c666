/* Fused elementwise passes of the cell kernels over one row: one sequence
 * of the batch at one time step, after that step's GEMM.
 *
 * They are C rather than Cython so that each can be compiled three times,
 * for the x86-64 baseline (SSE2, 4 floats per instruction), x86-64-v3 (AVX2
 * and FMA, 8 floats) and x86-64-v4 (AVX-512, 16 floats), under distinct
 * names (crnn_lstm_forward_row_f_sse2, _avx2, _avx512) with a target
 * attribute each, so a build stays portable (no -march=native) yet uses the
 * wide units where they exist. The forward passes are dominated by sigmoid
 * and tanh; on this project's machines the x86-64-v3 code evaluates them
 * about 3x faster than the baseline, and the x86-64-v4 code takes the LSTM
 * inference row at H = 32 from 112 to 76 ns (benchmarks/NOTES.md).
 *
 * Dispatch is explicit rather than GCC's target_clones so that every level
 * can be run and tested on a CPU that has the widest one: each level's
 * functions form a table (struct crnn_rows_f / _d), and a constructor that
 * runs when the extension module is loaded (i.e. at `import crnn`) points
 * crnn_rows_f / crnn_rows_d at one table, chosen by crnn_simd_choose from
 * the CPU's features (__builtin_cpu_supports, which also checks that the OS
 * saves the wide registers) and the environment variable CRNN_SIMD
 * (sse2, avx2 or avx512; unset, empty or "auto" picks the best). A value
 * that is unknown or that the CPU cannot run falls back to the best
 * supported level; crnn._simd warns about it in Python. Every extension
 * that includes this header makes the same choice, since all read the same
 * environment and CPU at load time. The public names the kernels call
 * (crnn_lstm_forward_row_f, ..., declared in _gate_rows.pxd) are static
 * inline wrappers that call through the chosen table: one indirect call
 * per row, as the ifunc of target_clones was.
 *
 * Other compilers (and GCC before 12, which lacks the x86-64-vN names) or
 * other architectures compile the baseline only, and the table starts
 * there, so a build without the constructor still runs correctly.
 *
 * Every pointer is restrict: the kernels pass rows of distinct arrays.
 * The bodies live in _gate_rows.inc, included once per precision and level. */
#ifndef CRNN_GATE_ROWS_H
#define CRNN_GATE_ROWS_H

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "_activations.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && (__GNUC__ >= 12)
#define CRNN_SIMD_DISPATCH 1
#include "_activations_avx2.h"
#include "_activations_avx512.h"
#else
#define CRNN_SIMD_DISPATCH 0
#endif

/* Levels, in increasing width; bit 1 << level of a "supported" mask says
 * the CPU can run that level. */
enum { CRNN_SIMD_SSE2 = 0, CRNN_SIMD_AVX2 = 1, CRNN_SIMD_AVX512 = 2, CRNN_SIMD_N = 3 };
/* CRNN_SIMD names of the levels; off x86-64 the one level is no SSE2 */
#if defined(__x86_64__) || defined(_M_X64)
static const char *const crnn_simd_names[CRNN_SIMD_N] = {"sse2", "avx2", "avx512"};
#else
static const char *const crnn_simd_names[CRNN_SIMD_N] = {"baseline", "avx2", "avx512"};
#endif

/* One level's functions for one precision, in _gate_rows.inc's order. */
#define CRNN_ROWS_STRUCT(T, tag)                                                        \
    struct tag {                                                                        \
        void (*rnn_forward_row)(T *, const T *, const T *, ptrdiff_t, int);             \
        void (*lstm_forward_row)(T *, const T *, const T *, const T *, T *, T *, T *,   \
                                 ptrdiff_t);                                            \
        void (*gru_forward_row)(T *, const T *, const T *, const T *, T *, const T *,   \
                                T *, ptrdiff_t);                                        \
        void (*lstm_backward_row)(const T *, const T *, const T *, const T *,           \
                                  const T *, T *, T *, ptrdiff_t);                      \
        void (*gru_backward_row)(const T *, const T *, const T *, const T *, T *, T *,  \
                                 ptrdiff_t);                                            \
        void (*column_sums_add)(const T *, ptrdiff_t, ptrdiff_t, ptrdiff_t, T *);       \
        void (*ln_row)(T *, const T *, const T *, T *, T *, T *, ptrdiff_t);            \
        void (*ln_row_backward)(const T *, const T *, T, const T *, T *, T *, T *,      \
                                ptrdiff_t);                                             \
        void (*lstm_ln_output_row)(const T *, const T *, const T *, const T *, T *,     \
                                   T *, T *, T *, ptrdiff_t);                           \
        void (*lstm_ln_backward_row)(const T *, const T *, const T *, T, const T *,     \
                                     const T *, const T *, T *, T *, T *, T *,          \
                                     ptrdiff_t);                                        \
        void (*adam_update)(T *, const T *, T *, T *, ptrdiff_t, T, T, T, T);           \
    }
CRNN_ROWS_STRUCT(float, crnn_rows_f_table);
CRNN_ROWS_STRUCT(double, crnn_rows_d_table);

/* One level's packed GEMM (_packed_gemm.inc) for one precision: its panel
 * width, and the packed size, the two packers and the product. */
#define CRNN_PGEMM_STRUCT(T, tag)                                                       \
    struct tag {                                                                        \
        ptrdiff_t nr;                                                                   \
        ptrdiff_t (*packed_size)(ptrdiff_t, ptrdiff_t);                                 \
        void (*pack_bt)(const T *, ptrdiff_t, ptrdiff_t, ptrdiff_t, T *);               \
        void (*pack_bn)(const T *, ptrdiff_t, ptrdiff_t, ptrdiff_t, T *);               \
        void (*gemm)(ptrdiff_t, ptrdiff_t, ptrdiff_t, const T *, ptrdiff_t, const T *,  \
                     T *, ptrdiff_t, int);                                              \
        int (*gemm_atb2)(ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, const T *,         \
                         ptrdiff_t, const T *, ptrdiff_t, const T *, ptrdiff_t, T *,    \
                         ptrdiff_t, T *, ptrdiff_t, int);                               \
        ptrdiff_t (*infer_packed_size)(int, ptrdiff_t, ptrdiff_t);                      \
        void (*pack_infer)(int, const T *, ptrdiff_t, ptrdiff_t, T *);                  \
        void (*infer_step)(int, int, ptrdiff_t, ptrdiff_t, ptrdiff_t, const T *,        \
                           ptrdiff_t, T *, ptrdiff_t, T *, const T *, const T *,        \
                           const T *, const T *, T *);                                  \
    }
CRNN_PGEMM_STRUCT(float, crnn_pgemm_f_table);
CRNN_PGEMM_STRUCT(double, crnn_pgemm_d_table);

/* Cell codes as crnn._cells.CellCode, for the fused inference step. */
enum { CRNN_CELL_RNN = 0, CRNN_CELL_LSTM = 1, CRNN_CELL_GRU = 2 };

/* Pre-activation columns per row of crnn_infer_step's work buffer
 * (_infer_step.inc): H for the vanilla cell, 4H for the LSTM (i, f, g, o)
 * and the GRU (r, z, then n's input and recurrent parts). */
static inline ptrdiff_t crnn_infer_width(int cell, ptrdiff_t n_hidden) {
    return cell == CRNN_CELL_RNN ? n_hidden : 4 * n_hidden;
}

#define CRNN_CAT3_(a, b, c) a##b##c
#define CRNN_CAT3(a, b, c) CRNN_CAT3_(a, b, c)
#define CRNN_SUFFIX(name) CRNN_CAT3(name, CRNN_PRECISION, CRNN_LEVEL)

/* Rows of the AVX-512 packed product's widest tile (_packed_gemm.inc): 12,
 * or 8 on AMD CPUs. A Zen 4 core runs each 512-bit operation as two 256-bit
 * halves, and there the 12-row tile, whose 12 row pointers leave too few of
 * the 16 general registers (gcc parks two in vector registers and moves
 * them back every k), ran training's step products 5-10% slower than the
 * 8-row tile, and W3 lstm and gru epochs 8-10%; on an Intel core with two
 * 512-bit FMA ports it ran them 6-13% faster (benchmarks/NOTES.md). Set
 * when the module loads (crnn_simd_init); CRNN_AVX512_TILE_ROWS=8 or 12
 * overrides it, for the tests of both. Each sum is the same either way:
 * one running sum over k in order, whichever tile computes it. */
static int crnn_avx512_tile_rows = 12;

/* Whether inference steps LSTMs too large to block unit group by unit
 * group (crnn_lstm_infer_step_units, _infer_step.inc); each module has its
 * own, which _minibatch._infer_units sets for the test that compares the
 * two ways to the bit. */
static int crnn_infer_units = 1;

#define CRNN_T float
#define CRNN_IS_FLOAT 1
#define CRNN_PRECISION _f
#define CRNN_ROWS_TABLE struct crnn_rows_f_table
#define CRNN_PGEMM_TABLE struct crnn_pgemm_f_table
#define CRNN_SIGMOID crnn_sigmoidf
#define CRNN_TANH crnn_tanhf
#define CRNN_TANH_INFER crnn_tanhf_expm1
#define CRNN_SQRT sqrtf
#include "_gate_rows_levels.h"
#undef CRNN_T
#undef CRNN_IS_FLOAT
#undef CRNN_PRECISION
#undef CRNN_ROWS_TABLE
#undef CRNN_PGEMM_TABLE
#undef CRNN_SIGMOID
#undef CRNN_TANH
#undef CRNN_TANH_INFER
#undef CRNN_SQRT

#define CRNN_T double
#define CRNN_IS_FLOAT 0
#define CRNN_PRECISION _d
#define CRNN_ROWS_TABLE struct crnn_rows_d_table
#define CRNN_PGEMM_TABLE struct crnn_pgemm_d_table
#define CRNN_SIGMOID crnn_sigmoid
#define CRNN_TANH crnn_tanh
#define CRNN_TANH_INFER crnn_tanh
#define CRNN_SQRT sqrt
#include "_gate_rows_levels.h"
#undef CRNN_T
#undef CRNN_IS_FLOAT
#undef CRNN_PRECISION
#undef CRNN_ROWS_TABLE
#undef CRNN_PGEMM_TABLE
#undef CRNN_SIGMOID
#undef CRNN_TANH
#undef CRNN_TANH_INFER
#undef CRNN_SQRT

/* The tables of the levels this build has (the baseline everywhere). */
static const struct crnn_rows_f_table *const crnn_rows_f_levels[CRNN_SIMD_N] = {
#if CRNN_SIMD_DISPATCH
    &crnn_rows_f_sse2, &crnn_rows_f_avx2, &crnn_rows_f_avx512};
#else
    &crnn_rows_f_sse2, &crnn_rows_f_sse2, &crnn_rows_f_sse2};
#endif
static const struct crnn_rows_d_table *const crnn_rows_d_levels[CRNN_SIMD_N] = {
#if CRNN_SIMD_DISPATCH
    &crnn_rows_d_sse2, &crnn_rows_d_avx2, &crnn_rows_d_avx512};
#else
    &crnn_rows_d_sse2, &crnn_rows_d_sse2, &crnn_rows_d_sse2};
#endif

static const struct crnn_pgemm_f_table *const crnn_pgemm_f_levels[CRNN_SIMD_N] = {
#if CRNN_SIMD_DISPATCH
    &crnn_pgemm_f_sse2, &crnn_pgemm_f_avx2, &crnn_pgemm_f_avx512};
#else
    &crnn_pgemm_f_sse2, &crnn_pgemm_f_sse2, &crnn_pgemm_f_sse2};
#endif
static const struct crnn_pgemm_d_table *const crnn_pgemm_d_levels[CRNN_SIMD_N] = {
#if CRNN_SIMD_DISPATCH
    &crnn_pgemm_d_sse2, &crnn_pgemm_d_avx2, &crnn_pgemm_d_avx512};
#else
    &crnn_pgemm_d_sse2, &crnn_pgemm_d_sse2, &crnn_pgemm_d_sse2};
#endif

/* Mask of the levels this CPU (and build) can run: bit 1 << level. */
static inline int crnn_simd_supported(void) {
    int mask = 1 << CRNN_SIMD_SSE2;
#if CRNN_SIMD_DISPATCH
    __builtin_cpu_init();   /* may run before libgcc's own constructor */
    if (__builtin_cpu_supports("x86-64-v3")) mask |= 1 << CRNN_SIMD_AVX2;
    if (__builtin_cpu_supports("x86-64-v3") && __builtin_cpu_supports("x86-64-v4"))
        mask |= 1 << CRNN_SIMD_AVX512;
#endif
    return mask;
}

/* The level to run for a CRNN_SIMD value (NULL when unset) and a mask of
 * supported levels: the named level if the mask has it, else the widest in
 * the mask. Never fails: a bad value only loses the override. */
static inline int crnn_simd_choose(const char *request, int supported) {
    int best = CRNN_SIMD_SSE2;
    for (int level = 0; level < CRNN_SIMD_N; level++)
        if (supported & (1 << level)) best = level;
    if (request == NULL) return best;
    for (int level = 0; level < CRNN_SIMD_N; level++)
        if (strcmp(request, crnn_simd_names[level]) == 0)
            return (supported & (1 << level)) ? level : best;
    return best;
}

/* The AVX-512 product's widest tile for a CRNN_AVX512_TILE_ROWS value (NULL
 * when unset): "8" or "12" as asked, else 8 on an AMD CPU and 12 elsewhere. */
static inline int crnn_tile_rows_choose(const char *request) {
    if (request != NULL && strcmp(request, "8") == 0) return 8;
    if (request != NULL && strcmp(request, "12") == 0) return 12;
#if CRNN_SIMD_DISPATCH
    __builtin_cpu_init();
    if (__builtin_cpu_is("amd")) return 8;
#endif
    return 12;
}

/* The chosen level and its tables; the baseline until the constructor runs. */
static int crnn_simd_level = CRNN_SIMD_SSE2;
static const struct crnn_rows_f_table *crnn_rows_f = &crnn_rows_f_sse2;
static const struct crnn_rows_d_table *crnn_rows_d = &crnn_rows_d_sse2;
static const struct crnn_pgemm_f_table *crnn_pgemm_f = &crnn_pgemm_f_sse2;
static const struct crnn_pgemm_d_table *crnn_pgemm_d = &crnn_pgemm_d_sse2;

#if defined(__GNUC__)
__attribute__((constructor, used))
#endif
static void crnn_simd_init(void) {
    crnn_simd_level = crnn_simd_choose(getenv("CRNN_SIMD"), crnn_simd_supported());
    crnn_avx512_tile_rows = crnn_tile_rows_choose(getenv("CRNN_AVX512_TILE_ROWS"));
    crnn_rows_f = crnn_rows_f_levels[crnn_simd_level];
    crnn_rows_d = crnn_rows_d_levels[crnn_simd_level];
    crnn_pgemm_f = crnn_pgemm_f_levels[crnn_simd_level];
    crnn_pgemm_d = crnn_pgemm_d_levels[crnn_simd_level];
}

/* The names _gate_rows.pxd declares: one call through the chosen table.
 * Arguments as documented at each body in _gate_rows.inc. */
#define CRNN_ROWS_WRAPPERS(T, P)                                                        \
static inline void crnn_rnn_forward_row##P(T *z, const T *b_ih, const T *b_hh,         \
                                           ptrdiff_t n, int activation) {              \
    crnn_rows##P->rnn_forward_row(z, b_ih, b_hh, n, activation);                       \
}                                                                                       \
static inline void crnn_lstm_forward_row##P(T *a, const T *b_ih, const T *b_hh,        \
                                            const T *c_prev, T *c_next, T *h_next,     \
                                            T *tc, ptrdiff_t n) {                      \
    crnn_rows##P->lstm_forward_row(a, b_ih, b_hh, c_prev, c_next, h_next, tc, n);      \
}                                                                                       \
static inline void crnn_gru_forward_row##P(T *a, const T *hh, const T *b_ih,           \
                                           const T *b_hh, T *hn, const T *h_prev,      \
                                           T *h_next, ptrdiff_t n) {                   \
    crnn_rows##P->gru_forward_row(a, hh, b_ih, b_hh, hn, h_prev, h_next, n);           \
}                                                                                       \
static inline void crnn_lstm_backward_row##P(const T *a, const T *tc, const T *c_prev, \
                                             const T *dh_in, const T *dh, T *dc, T *d, \
                                             ptrdiff_t n) {                            \
    crnn_rows##P->lstm_backward_row(a, tc, c_prev, dh_in, dh, dc, d, n);               \
}                                                                                       \
static inline void crnn_gru_backward_row##P(const T *a, const T *hn, const T *h_prev,  \
                                            const T *dh_in, T *dh, T *d, ptrdiff_t n) { \
    crnn_rows##P->gru_backward_row(a, hn, h_prev, dh_in, dh, d, n);                    \
}                                                                                       \
static inline void crnn_column_sums_add##P(const T *A, ptrdiff_t n_rows,               \
                                           ptrdiff_t n_cols, ptrdiff_t ld, T *out) {   \
    crnn_rows##P->column_sums_add(A, n_rows, n_cols, ld, out);                         \
}                                                                                       \
static inline void crnn_ln_row##P(T *a, const T *gain, const T *bias, T *xhat,         \
                                  T *rstd, T *dst, ptrdiff_t n) {                      \
    crnn_rows##P->ln_row(a, gain, bias, xhat, rstd, dst, n);                           \
}                                                                                       \
static inline void crnn_ln_row_backward##P(const T *dy, const T *xhat, T rstd,         \
                                           const T *gain, T *da, T *dgain, T *dbias,   \
                                           ptrdiff_t n) {                              \
    crnn_rows##P->ln_row_backward(dy, xhat, rstd, gain, da, dgain, dbias, n);          \
}                                                                                       \
static inline void crnn_lstm_ln_output_row##P(const T *c, const T *o, const T *gain,   \
                                              const T *bias, T *chat, T *rstd, T *tc,  \
                                              T *h, ptrdiff_t n) {                     \
    crnn_rows##P->lstm_ln_output_row(c, o, gain, bias, chat, rstd, tc, h, n);          \
}                                                                                       \
static inline void crnn_lstm_ln_backward_row##P(const T *o, const T *tc, const T *chat,\
                                                T rstd, const T *gain, const T *dh_in, \
                                                const T *dh, T *dc, T *dgain,          \
                                                T *dbias, T *work, ptrdiff_t n) {      \
    crnn_rows##P->lstm_ln_backward_row(o, tc, chat, rstd, gain, dh_in, dh, dc, dgain,  \
                                       dbias, work, n);                                \
}                                                                                       \
static inline void crnn_adam_update##P(T *params, const T *grads, T *m, T *v,           \
                                       ptrdiff_t n, T b1, T b2, T lr, T eps) {          \
    crnn_rows##P->adam_update(params, grads, m, v, n, b1, b2, lr, eps);                \
}
CRNN_ROWS_WRAPPERS(float, _f)
CRNN_ROWS_WRAPPERS(double, _d)

/* The packed GEMM of the chosen level (_packed_gemm.inc): a buffer for B
 * packed from W^T (crnn_pack_bt) or W (crnn_pack_bn), NULL when out of
 * memory, freed with free(); and the product with it. */
#define CRNN_PGEMM_WRAPPERS(T, P)                                                       \
static inline T *crnn_pack_bt##P(const T *W, ptrdiff_t ldw, ptrdiff_t K, ptrdiff_t N) { \
    T *packed = (T *)malloc((size_t)crnn_pgemm##P->packed_size(K, N) * sizeof(T) + 1);  \
    if (packed != NULL) crnn_pgemm##P->pack_bt(W, ldw, K, N, packed);                  \
    return packed;                                                                      \
}                                                                                       \
static inline T *crnn_pack_bn##P(const T *W, ptrdiff_t ldw, ptrdiff_t K, ptrdiff_t N) { \
    T *packed = (T *)malloc((size_t)crnn_pgemm##P->packed_size(K, N) * sizeof(T) + 1);  \
    if (packed != NULL) crnn_pgemm##P->pack_bn(W, ldw, K, N, packed);                  \
    return packed;                                                                      \
}                                                                                       \
static inline void crnn_packed_gemm##P(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K,          \
                                       const T *A, ptrdiff_t lda, const T *packed,     \
                                       T *C, ptrdiff_t ldc, int accumulate) {          \
    crnn_pgemm##P->gemm(M, N, K, A, lda, packed, C, ldc, accumulate);                  \
}                                                                                       \
/* C[N x M] (=|+=) B^T A without packing (crnn_gemm_atb; dW = delta^T       \
 * H_prev with A = H_prev, B = delta), -1 when out of memory */                 \
static inline int crnn_gemm_atb##P(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, const T *A,   \
                                   ptrdiff_t lda, const T *B, ptrdiff_t ldb, T *C,      \
                                   ptrdiff_t ldc, int accumulate) {                     \
    return crnn_pgemm##P->gemm_atb2(M, 0, N, K, A, lda, A, lda, B, ldb, C, ldc, C, ldc,  \
                                    accumulate);                                        \
}                                                                                       \
/* C1 = B^T A1 and C2 = B^T A2 in one pass over B's panels (crnn_gemm_atb2:   \
 * dW_hh and dW_ih of one delta) */                                             \
static inline int crnn_gemm_atb2##P(ptrdiff_t M1, ptrdiff_t M2, ptrdiff_t N, ptrdiff_t K, \
                                    const T *A1, ptrdiff_t lda1, const T *A2,           \
                                    ptrdiff_t lda2, const T *B, ptrdiff_t ldb, T *C1,   \
                                    ptrdiff_t ldc1, T *C2, ptrdiff_t ldc2,              \
                                    int accumulate) {                                   \
    return crnn_pgemm##P->gemm_atb2(M1, M2, N, K, A1, lda1, A2, lda2, B, ldb, C1, ldc1, \
                                    C2, ldc2, accumulate);                              \
}                                                                                       \
/* W_cat packed for crnn_infer_step (_infer_step.inc), NULL when out of memory */       \
static inline T *crnn_pack_infer##P(int cell, const T *W_cat, ptrdiff_t n_in,           \
                                    ptrdiff_t n_hidden) {                               \
    T *packed = (T *)malloc(                                                            \
        (size_t)crnn_pgemm##P->infer_packed_size(cell, n_in, n_hidden) * sizeof(T) + 1); \
    if (packed != NULL) crnn_pgemm##P->pack_infer(cell, W_cat, n_in, n_hidden, packed); \
    return packed;                                                                      \
}                                                                                       \
static inline void crnn_infer_step##P(int cell, int activation, ptrdiff_t M,            \
                                      ptrdiff_t n_in, ptrdiff_t n_hidden, const T *X,   \
                                      ptrdiff_t ldx, T *Hs, ptrdiff_t ldh, T *Cs,       \
                                      const T *packed, const T *bias, const T *b_ih,    \
                                      const T *b_hh, T *work) {                         \
    crnn_pgemm##P->infer_step(cell, activation, M, n_in, n_hidden, X, ldx, Hs, ldh, Cs, \
                              packed, bias, b_ih, b_hh, work);                          \
}
CRNN_PGEMM_WRAPPERS(float, _f)
CRNN_PGEMM_WRAPPERS(double, _d)

#endif
