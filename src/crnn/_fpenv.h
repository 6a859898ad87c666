/* Flush-to-zero for the kernels' floating-point work.
 *
 * Back-propagated deltas vanish over long sequences into the subnormal
 * range, where x86 arithmetic takes microcode assists: one LSTM epoch at
 * T = 200 took 20x the time of T = 100 instead of 2x (issue "Long
 * sequences without the denormal cliff"). Every compiled entry point that
 * computes (the timestep driver's passes, the optimizer step) therefore
 * sets flush-to-zero and denormals-are-zero on the thread that computes --
 * which also covers the BLAS calls it makes from that thread -- and
 * restores the caller's state on exit, so code outside crnn is unaffected.
 * Values below the smallest normal number (1.2e-38 in float32, 2.2e-308 in
 * float64) become zero inside crnn.
 *
 * x86-64: MXCSR bits FTZ (15) and DAZ (6). AArch64: FPCR bit FZ (24),
 * which flushes both inputs and results. Elsewhere: nothing (reported by
 * crnn.show_build_info()). */
#ifndef CRNN_FPENV_H
#define CRNN_FPENV_H

#if defined(__x86_64__) || defined(_M_X64)
#include <xmmintrin.h>
typedef unsigned long crnn_fpstate;
#define CRNN_FLUSH_MODE "FTZ+DAZ (x86-64 MXCSR)"
static inline crnn_fpstate crnn_fp_get(void) { return _mm_getcsr(); }
static inline void crnn_fp_set(crnn_fpstate state) { _mm_setcsr((unsigned int)state); }
#define CRNN_FLUSH_BITS 0x8040UL
#elif defined(__aarch64__)
typedef unsigned long crnn_fpstate;
#define CRNN_FLUSH_MODE "FZ (AArch64 FPCR)"
static inline crnn_fpstate crnn_fp_get(void) {
    unsigned long fpcr;
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(fpcr));
    return fpcr;
}
static inline void crnn_fp_set(crnn_fpstate state) {
    __asm__ __volatile__("msr fpcr, %0" : : "r"(state));
}
#define CRNN_FLUSH_BITS (1UL << 24)
#else
typedef unsigned long crnn_fpstate;
#define CRNN_FLUSH_MODE "not available on this platform"
static inline crnn_fpstate crnn_fp_get(void) { return 0; }
static inline void crnn_fp_set(crnn_fpstate state) { (void)state; }
#define CRNN_FLUSH_BITS 0UL
#endif

/* Enter: remember the caller's state and, if enabled, flush subnormals. */
static inline crnn_fpstate crnn_fp_enter(int enabled) {
    crnn_fpstate old = crnn_fp_get();
    if (enabled && CRNN_FLUSH_BITS) crnn_fp_set(old | CRNN_FLUSH_BITS);
    return old;
}

static inline void crnn_fp_exit(crnn_fpstate old) {
    if (CRNN_FLUSH_BITS) crnn_fp_set(old);
}
#endif
