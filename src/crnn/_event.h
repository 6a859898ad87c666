/* Spin-then-block hand-offs between threads (POSIX).
 *
 * crnn_spin_until_set polls a flag for a bounded time: the gaps a training
 * loop hands a part across are far shorter than a sleep and a wake-up
 * through the kernel (25-40 us on a VM; see _handoff.pyx). crnn_event adds
 * the fallback for C threads that hold no GIL: after the spin the waiter
 * sleeps on a condition variable. */
#ifndef CRNN_EVENT_H
#define CRNN_EVENT_H

#include <pthread.h>
#include <stddef.h>
#include <sched.h>
#include <time.h>

static inline void crnn_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static inline double crnn_monotonic_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Poll *flag until it is set or `seconds` have passed; returns it. The
 * first CRNN_PAUSE_SECONDS poll with the CPU's pause hint only; after
 * that each round of polls yields the core (sched_yield returns at once
 * when nothing else wants it), so a poller never keeps a thread of
 * other work waiting when more threads than cores are busy. The clock
 * is read once per 64 polls. */
#define CRNN_PAUSE_SECONDS 2e-5
static int crnn_spin_until_set(const int *flag, double seconds) {
    double start = crnn_monotonic_seconds(), now = start;
    for (;;) {
        for (int i = 0; i < 64; i++) {
            if (__atomic_load_n(flag, __ATOMIC_ACQUIRE))
                return 1;
            crnn_cpu_relax();
        }
        now = crnn_monotonic_seconds();
        if (now - start > seconds)
            return __atomic_load_n(flag, __ATOMIC_ACQUIRE);
        if (now - start > CRNN_PAUSE_SECONDS)
            sched_yield();
    }
}

static inline void crnn_store_flag(int *flag, int value) {
    __atomic_store_n(flag, value, __ATOMIC_RELEASE);
}

/* The next index of a shared counter (its value before the increment): the
 * threads of a predict take its chunks in turn, so a thread on a slower core
 * takes fewer of them. Relaxed: the chunks' inputs were written before the
 * threads started and their outputs are disjoint, read after the threads'
 * done events. */
static inline ptrdiff_t crnn_take_next(ptrdiff_t *counter) {
    return __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

/* A one-waiter event: one thread sets, one other waits, and the wait
 * clears it, so the two alternate. The flag is stored under the mutex, so
 * a waiter that checks it under the mutex before sleeping cannot miss the
 * signal. */
typedef struct {
    int flag;
    pthread_mutex_t mutex;
    pthread_cond_t cond;
} crnn_event;

static int crnn_event_init(crnn_event *e) {
    e->flag = 0;
    if (pthread_mutex_init(&e->mutex, NULL) != 0)
        return -1;
    if (pthread_cond_init(&e->cond, NULL) != 0) {
        pthread_mutex_destroy(&e->mutex);
        return -1;
    }
    return 0;
}

static void crnn_event_destroy(crnn_event *e) {
    pthread_cond_destroy(&e->cond);
    pthread_mutex_destroy(&e->mutex);
}

static void crnn_event_set(crnn_event *e) {
    pthread_mutex_lock(&e->mutex);
    crnn_store_flag(&e->flag, 1);
    pthread_cond_signal(&e->cond);
    pthread_mutex_unlock(&e->mutex);
}

/* Return once the event is set (polling for `spin_seconds` first), and clear it. */
static void crnn_event_wait(crnn_event *e, double spin_seconds) {
    if (!crnn_spin_until_set(&e->flag, spin_seconds)) {
        pthread_mutex_lock(&e->mutex);
        while (!__atomic_load_n(&e->flag, __ATOMIC_ACQUIRE))
            pthread_cond_wait(&e->cond, &e->mutex);
        pthread_mutex_unlock(&e->mutex);
    }
    crnn_store_flag(&e->flag, 0);
}

#endif
