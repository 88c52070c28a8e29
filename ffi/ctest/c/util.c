/* util.c - helpers shared by the C tests. */
#include "ctest.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void ctest_sleep_ms(long ms)
{
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0) {
        /* interrupted: sleep the rest */
    }
}

static pthread_mutex_t capture_lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *capture_file;
static int capture_fd = -1, saved_fd = -1;

int ctest_capture_begin(int fd)
{
    pthread_mutex_lock(&capture_lock);
    fflush(fd == 1 ? stdout : stderr);
    capture_file = tmpfile();
    if (!capture_file)
        goto fail;
    saved_fd = dup(fd);
    if (saved_fd < 0)
        goto fail;
    if (dup2(fileno(capture_file), fd) < 0)
        goto fail;
    capture_fd = fd;
    return 0;
fail:
    perror("ctest_capture_begin");
    if (saved_fd >= 0)
        close(saved_fd);
    if (capture_file)
        fclose(capture_file);
    saved_fd = -1;
    capture_file = NULL;
    pthread_mutex_unlock(&capture_lock);
    return -1;
}

int ctest_capture_end(char *buf, size_t size)
{
    size_t n;

    fflush(capture_fd == 1 ? stdout : stderr);
    dup2(saved_fd, capture_fd);
    close(saved_fd);
    rewind(capture_file);
    n = fread(buf, 1, size - 1, capture_file);
    buf[n] = '\0';
    fclose(capture_file);
    capture_file = NULL;
    saved_fd = capture_fd = -1;
    pthread_mutex_unlock(&capture_lock);
    return 0;
}
