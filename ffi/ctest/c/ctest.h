/*
 * ctest.h - tiny helpers for the C tests of p2pchat.h.
 *
 * Each test is `int ctest_NAME(void)`: 0 on success; on failure it prints what
 * went wrong to stderr and returns 1.  tests/c.rs runs each as a #[test].
 */
#ifndef P2PCHAT_CTEST_H
#define P2PCHAT_CTEST_H

#include <stdio.h>

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: %s: check failed: %s\n", __FILE__,         \
                    __LINE__, __func__, #cond);                                \
            return 1;                                                          \
        }                                                                      \
    } while (0)

#define CHECK_STATUS(expr, expected)                                           \
    do {                                                                       \
        int got_ = (int)(expr);                                                \
        if (got_ != (int)(expected)) {                                         \
            fprintf(stderr, "%s:%d: %s: %s returned %d (%s), expected %d (%s); " \
                    "last error: %s\n", __FILE__, __LINE__, __func__, #expr,   \
                    got_, p2pchat_status_text(got_), (int)(expected),          \
                    p2pchat_status_text((int)(expected)), p2pchat_last_error());\
            return 1;                                                          \
        }                                                                      \
    } while (0)

/* Sleeps for `ms` milliseconds. */
void ctest_sleep_ms(long ms);

/*
 * Captures what is written to file descriptor `fd` (1 or 2) between
 * ctest_capture_begin(fd) and ctest_capture_end(buf, size), which stores it,
 * NUL-terminated and truncated to size - 1 bytes, in buf.  One capture at a
 * time (a global lock); returns 0 on success.
 */
int ctest_capture_begin(int fd);
int ctest_capture_end(char *buf, size_t size);

#endif
