/*
 * ctest_main.c - runs the C tests of ffi/ctest/c/ as one standalone program, for
 * `make memcheck` (valgrind wants a plain executable, not a cargo test harness).
 *
 *   ctest_main [TEST...]     every test, or only those named
 *
 * The list of tests is ctest_list.h, which the Makefile generates from the
 * c_tests! list of ffi/ctest/tests/c.rs: one X-macro line CTEST(name) per test,
 * so the list is kept in one place.  Exit status: 0 when every test passed, 1
 * otherwise, 2 for an unknown test name.
 */
#include "ctest.h"

#include <stdio.h>
#include <string.h>

#define CTEST(name) int name(void);
#include "ctest_list.h"
#undef CTEST

struct ctest {
    const char *name;
    int (*run)(void);
};

static const struct ctest tests[] = {
#define CTEST(name) {#name, name},
#include "ctest_list.h"
#undef CTEST
};

#define N_TESTS (sizeof tests / sizeof tests[0])

static int wanted(const char *name, int argc, char **argv)
{
    int i;

    if (argc < 2)
        return 1;
    for (i = 1; i < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    size_t i;
    int j, passed = 0, failed = 0;

    for (j = 1; j < argc; j++) {
        for (i = 0; i < N_TESTS; i++)
            if (strcmp(argv[j], tests[i].name) == 0)
                break;
        if (i == N_TESTS) {
            fprintf(stderr, "ctest_main: no test named %s\n", argv[j]);
            return 2;
        }
    }
    for (i = 0; i < N_TESTS; i++) {
        if (!wanted(tests[i].name, argc, argv))
            continue;
        fprintf(stderr, "test %s ...\n", tests[i].name);
        if (tests[i].run() == 0) {
            fprintf(stderr, "test %s ... ok\n", tests[i].name);
            passed++;
        } else {
            fprintf(stderr, "test %s ... FAILED\n", tests[i].name);
            failed++;
        }
    }
    fprintf(stderr, "ctest_main: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
