/*
 * p2pchat.c - the lab's main program: the curses UI (ui.h) hosting a p2pchat
 * node (p2pchat.h).
 *
 *   p2pchat [OPTIONS] NAME [HOST PORT]      (p2pchat --help for the options)
 *
 * With --headless or --json there is no UI: the library runs the node on
 * stdin/stdout.  Otherwise every event the node shows goes to ui_display() from
 * the node's network thread, and every line typed goes to p2pchat_node_send(),
 * which never blocks (ui_run() calls the input callback holding its UI lock,
 * which ui_display() takes too).  ":quit", Ctrl+C or Ctrl+D, and SIGTERM,
 * SIGHUP or SIGINT (p2pchat_quit_on_signals()) stop the node; its
 * STOPPED event calls ui_exit(), ui_run() returns and restores the terminal, and
 * main() frees everything.
 *
 * Exit status: 0 after a normal quit (also on SIGTERM, SIGHUP, SIGINT), --help
 * or --version; 1 if the node cannot start or the terminal cannot be driven
 * (not a terminal, TERM unset or unknown: the message points to --headless);
 * 2 for a bad command line.
 */
#include "ui.h"

#include <curses.h>
#include <p2pchat.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <term.h>
#include <unistd.h>

/* Written by main() before ui_run(), read by the input callback, which runs on
 * the same thread (inside ui_run()). */
static p2pchat_node *node;

/* Network thread: show what the node shows; leave the UI when it stops. */
static void on_event(void *userdata, const p2pchat_event *event)
{
    (void)userdata;
    if (event->username != NULL)
        ui_display(event->username, event->message);
    if (event->kind == P2PCHAT_EVENT_KIND_STOPPED)
        ui_exit();
}

/* ui_run()'s thread, UI lock held: hand the line to the node, never blocking. */
static void on_input(const char *line)
{
    p2pchat_status status;

    if (node == NULL)
        return;
    status = p2pchat_node_send(node, line);
    if (status == P2PCHAT_STATUS_STOPPED)
        ui_exit(); /* the STOPPED event is on its way or already shown */
    else if (status != P2PCHAT_STATUS_OK)
        ui_display("ERROR", p2pchat_last_error());
}

/* Whether curses can drive this terminal: stdin and stdout are terminals and
 * the terminal database knows TERM.  If not, says why (the core's words, with
 * the hint to use --headless) on stderr: ui_init() would only disable the UI,
 * and ui_run() return at once. */
static int terminal_usable(void)
{
    const char *term = getenv("TERM");
    int err = 0;

    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        fprintf(stderr, "p2pchat: %s\n", p2pchat_terminal_error(false, NULL));
        return 0;
    }
    if (term == NULL || *term == '\0' || setupterm(NULL, STDOUT_FILENO, &err) != OK) {
        fprintf(stderr, "p2pchat: %s\n", p2pchat_terminal_error(true, term));
        return 0;
    }
    del_curterm(cur_term); /* ui_init() sets the terminal up again */
    return 1;
}

int main(int argc, char **argv)
{
    p2pchat_config *cfg = NULL;
    p2pchat_status status;

    status = p2pchat_config_from_args(argc, (const char *const *)argv, &cfg);
    switch (status) {
    case P2PCHAT_STATUS_OK:
        break;
    case P2PCHAT_STATUS_HELP:
    case P2PCHAT_STATUS_VERSION:
        return 0;
    case P2PCHAT_STATUS_USAGE:
        return 2;
    default:
        fprintf(stderr, "p2pchat: %s: %s\n", p2pchat_status_text(status), p2pchat_last_error());
        return 1;
    }

    if (p2pchat_config_mode(cfg) != P2PCHAT_MODE_UI) {
        int code = p2pchat_run_headless(cfg);
        p2pchat_config_free(cfg);
        return code;
    }

    if (!terminal_usable()) {
        p2pchat_config_free(cfg);
        return 1;
    }

    /* SIGTERM, SIGHUP and SIGINT quit the node like :quit (its STOPPED event
     * then ends ui_run()); before ui_init(), so that curses leaves them alone. */
    if (p2pchat_quit_on_signals() != P2PCHAT_STATUS_OK)
        fprintf(stderr, "p2pchat: %s\n", p2pchat_last_error());

    /* The UI first, so that the LISTENING event ("INFO: listening on port N")
     * is the first line in the message pane. */
    ui_init(on_input);
    status = p2pchat_node_new(cfg, on_event, NULL, &node);
    if (status != P2PCHAT_STATUS_OK) {
        char reason[512];
        snprintf(reason, sizeof reason, "%s", p2pchat_last_error());
        ui_exit(); /* restores the terminal: ui_run() is not running */
        fprintf(stderr, "p2pchat: cannot start: %s\n",
                reason[0] != '\0' ? reason : p2pchat_status_text(status));
        p2pchat_config_free(cfg);
        return 1;
    }

    ui_run(); /* until ui_exit(); restores the terminal before returning */

    p2pchat_node_stop(node); /* idempotent: usually already stopped by :quit */
    p2pchat_node_free(node);
    node = NULL;
    p2pchat_config_free(cfg);
    return 0;
}
