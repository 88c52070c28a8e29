/*
 * ui_echo.c - manual/automated test program for ui.h.
 *
 *   - echoes every submitted line as "you: <line>";
 *   - ":quit" calls ui_exit() from inside the input callback;
 *   - ":tquit" makes another thread call ui_exit() 200 ms later, while
 *     ui_run() is waiting for keys (the network thread's case);
 *   - a "bot" thread calls ui_display("bot", "tick N") for N = 1..5;
 *   - shows a UTF-8 line, and lines with an ESC byte, a C1 control and
 *     invalid UTF-8, which must appear sanitised.
 *
 * Build: cc -std=c11 -D_XOPEN_SOURCE=700 -D_DEFAULT_SOURCE -I ui \
 *           ui/ui.c ui/tests/ui_echo.c -lncursesw -pthread
 */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE 1
#endif
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700
#endif

#include "ui.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static atomic_int stop_bot;
static atomic_int quitter_started;
static pthread_t quitter;

static void sleep_ms(long ms)
{
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

static void *bot_main(void *arg)
{
    char buf[32];
    int n, step;

    (void)arg;
    for (n = 1; n <= 5; n++) {
        for (step = 0; step < 2; step++) {
            if (atomic_load(&stop_bot))
                return NULL;
            sleep_ms(100);
        }
        snprintf(buf, sizeof buf, "tick %d", n);
        ui_display("bot", buf);
    }
    return NULL;
}

static void *quitter_main(void *arg)
{
    (void)arg;
    sleep_ms(200);
    ui_display("quitter", "calling ui_exit from another thread");
    ui_exit();
    ui_exit(); /* twice: must be harmless */
    return NULL;
}

static void on_input(const char *line)
{
    if (strcmp(line, ":quit") == 0) {
        ui_display("you", line);
        ui_exit();
        return;
    }
    if (strcmp(line, ":tquit") == 0) {
        ui_display("you", line);
        if (!atomic_exchange(&quitter_started, 1) &&
            pthread_create(&quitter, NULL, quitter_main, NULL) != 0) {
            atomic_store(&quitter_started, 0);
            ui_exit();
        }
        return;
    }
    ui_display("you", line);
}

int main(void)
{
    pthread_t bot;
    int bot_ok;

    ui_init(on_input);
    ui_display("test", "h\xc3\xa9llo w\xc3\xb6rld \xe6\x97\xa5\xe6\x9c\xac");
    ui_display("test", "esc\x1b[31mred");
    ui_display("test", "c1\xc2\x9b" "31mx");
    ui_display("test", "bad\xff\xc3(utf8");
    ui_display(NULL, "a line without a user name");

    bot_ok = pthread_create(&bot, NULL, bot_main, NULL) == 0;
    ui_run();

    atomic_store(&stop_bot, 1);
    if (bot_ok)
        pthread_join(bot, NULL);
    if (atomic_load(&quitter_started))
        pthread_join(quitter, NULL);
    /* after the UI has exited, ui_display prints to stdout */
    ui_display("ui_echo", "bye");
    return 0;
}
