/* Preloaded before libfaketime for the processes of a simulated host with a clock offset.
 *
 * libfaketime 0.9.10 (Debian 12) shifts the deadline of clock_nanosleep(CLOCK_MONOTONIC,
 * TIMER_ABSTIME) by the fake offset even with FAKETIME_DONT_FAKE_MONOTONIC=1, and the
 * kernel answers EINVAL: that is every time.sleep() of Python 3.11 (wolfcw/libfaketime#426,
 * fixed in 0.9.11). The monotonic clock is not faked on a simulated host, so a sleep on it
 * goes to the kernel untouched; every other clock goes on to libfaketime.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

typedef int (*clock_nanosleep_fn)(clockid_t, int, const struct timespec *, struct timespec *);

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
