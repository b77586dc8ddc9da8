/* Preloaded before libfaketime for the processes of a simulated host with a clock offset.
 *
 * The monotonic clock is not faked on a simulated host (FAKETIME_DONT_FAKE_MONOTONIC=1), yet
 * libfaketime 0.9.10 (Debian 12) shifts deadlines on it by the fake offset, so a wait on it
 * goes to glibc untouched here; every wait on another clock goes on to libfaketime.
 *
 * - clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME): the kernel answers EINVAL, which is
 *   every time.sleep() of Python 3.11 (wolfcw/libfaketime#426, fixed in 0.9.11).
 * - pthread_cond_timedwait on a monotonic condvar: Python's GIL, whose holder is asked to let
 *   go after a 5 ms timed wait. With the deadline moved, a thread waiting for the GIL gets it
 *   after 0.7 to 9 ms on average (5 without libfaketime), nearly at every tick at some
 *   offsets: the GIL thrashes and a busy worker's sends stall by tens of ms (the hosts of the
 *   clock scenario showed it, whatever their offset; a real host does not).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

typedef int (*clock_nanosleep_fn)(clockid_t, int, const struct timespec *, struct timespec *);
typedef int (*cond_timedwait_fn)(pthread_cond_t *, pthread_mutex_t *, const struct timespec *);

int clock_nanosleep(clockid_t clock, int flags, const struct timespec *req, struct timespec *rem)
{
    static clock_nanosleep_fn next;

    if (clock == CLOCK_MONOTONIC) {
        /* clock_nanosleep returns the error number; the raw syscall sets errno. */
        return syscall(SYS_clock_nanosleep, clock, flags, req, rem) == 0 ? 0 : errno;
    }
    if (next == NULL) {
        next = (clock_nanosleep_fn)dlsym(RTLD_NEXT, "clock_nanosleep");
    }
    return next(clock, flags, req, rem);
}

/* glibc (2.25 and later) keeps a condvar's clock in bit 1 of __wrefs (nptl/pthread_cond_wait.c:
 * "Bit 1 is the clock ID (0 == CLOCK_REALTIME, 1 == CLOCK_MONOTONIC)"). */
static int monotonic_condvar(const pthread_cond_t *cond)
{
    return (cond->__data.__wrefs >> 1) & 1;
}

int pthread_cond_timedwait(pthread_cond_t *cond, pthread_mutex_t *mutex,
                           const struct timespec *abstime)
{
    static cond_timedwait_fn glibc, next;

    if (glibc == NULL) {  /* a race here only looks the same symbols up twice */
        void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
        cond_timedwait_fn found = libc ? (cond_timedwait_fn)dlvsym(
            libc, "pthread_cond_timedwait", "GLIBC_2.3.2") : NULL;
        next = (cond_timedwait_fn)dlvsym(RTLD_NEXT, "pthread_cond_timedwait", "GLIBC_2.3.2");
        glibc = found ? found : next;
    }
    return (monotonic_condvar(cond) ? glibc : next)(cond, mutex, abstime);
}
