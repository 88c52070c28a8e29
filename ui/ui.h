/*
 * ui.h - terminal user interface of p2pchat (the lab's interface, unchanged).
 *
 * A message pane on top, a separator line, and a one-line input field at the
 * bottom.  Lines are shown as "username: message"; the newest is always
 * visible.  Implemented with ncurses (wide-character build, ncursesw).
 *
 * Threading model
 * ---------------
 * ncurses itself is not thread-safe; this module serialises every curses
 * call behind one internal *recursive* mutex (the "UI lock").
 *
 *  - ui_run() owns the terminal input.  It waits for keys WITHOUT holding the
 *    UI lock, then takes the lock to process them.  The input callback is
 *    called from inside ui_run(), on ui_run()'s thread, WHILE the UI lock is
 *    held (as the lab's UI does).  Because the lock is recursive, the
 *    callback may itself call ui_display() and ui_exit().  Any other thread
 *    calling ui_display() meanwhile waits until the callback returns, so the
 *    callback must never wait for a thread that may be inside ui_display().
 *  - ui_display() may be called from any thread, at any time.
 *  - ui_exit() / ui_stop() may be called from any thread, at any time; they
 *    never block on the UI lock while ui_run() is running.
 *
 * Link with: -lncursesw (or `pkg-config --libs ncursesw`) and -pthread.
 */
#ifndef P2PCHAT_UI_H
#define P2PCHAT_UI_H

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Called with each line the user submits (Enter), as a NUL-terminated UTF-8
 * string borrowed for the duration of the call (copy it to keep it).  Empty
 * lines are not passed.  Ctrl+C and Ctrl+D, and a hang-up of the terminal,
 * pass ":quit" (a second Ctrl+C/Ctrl+D, or one with no callback installed,
 * leaves ui_run() directly).  Called on ui_run()'s thread with the UI lock
 * held: it may call ui_display() and ui_exit(), and must not block for long.
 */
typedef void (*input_callback_t)(const char*);

/*
 * Sets up the terminal (locale from the environment, curses screen) and
 * installs `callback` (may be NULL).  Call once, before ui_run(), normally
 * from the main thread.  If standard input or output is not a terminal, or
 * the terminal cannot be initialised, an error is printed on stderr and the
 * UI stays inactive: ui_run() then returns at once and ui_display() prints to
 * stdout.  Calling it again while the UI is active only replaces the
 * callback.  A ui_exit() made before ui_init() is forgotten.
 */
void ui_init(input_callback_t callback);

/*
 * Runs the input loop on the calling thread until ui_exit() is called (from
 * any thread, including the input callback), then restores the terminal
 * (endwin) and frees the UI's memory before returning.  Returns at once if
 * the UI is not active (ui_init() not called or failed, or already exited)
 * or if ui_run() is already running on another thread.
 */
void ui_run(void);

/*
 * Appends the line "username: message" to the message pane (just "message"
 * if username is NULL or empty; NULL message means "").  Both strings are
 * UTF-8 and are copied.  Control characters (bytes below 0x20, 0x7f, and
 * U+0080..U+009F) are shown as '?', and invalid UTF-8 as U+FFFD, so nothing
 * reaches the terminal raw.  Very long lines are truncated (about 4000
 * characters); the last 1000 lines are kept for redrawing after a resize.
 * Safe from any thread, and from inside the input callback.
 * When the curses UI is not active (before ui_init(), after the UI has
 * exited, or when ui_init() failed) the line is written, sanitised the same
 * way, to stdout as "username: message\n" instead.
 */
void ui_display(const char* username, const char* message);

/*
 * Asks ui_run() to return; ui_run() notices within about 50 ms.  Safe from
 * any thread and from inside the input callback; does not wait for ui_run()
 * to finish.  If ui_run() is not running, the terminal is restored right
 * away.  Calling it more than once is harmless.
 */
void ui_exit(void);

/* Synonym of ui_exit(). */
void ui_stop(void);

#ifdef __cplusplus
}
#endif

#endif /* P2PCHAT_UI_H */
