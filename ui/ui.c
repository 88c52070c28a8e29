/*
 * ui.c - ncurses implementation of ui.h for p2pchat.
 *
 * Layout (rows R, columns C):
 *     rows 0 .. R-3   message pane (wrapped lines, newest at the bottom)
 *     row  R-2        separator
 *     row  R-1        input field "> text", scrolls horizontally
 * (with fewer than 3 rows the separator, then the pane, are dropped).
 *
 * Concurrency: every curses call is made with `ui_lock` held.  ui_run() waits
 * for input with poll() (timeout UI_POLL_MS) without the lock, then takes the
 * lock and drains the keys with a non-blocking wget_wch().  The input
 * callback is called with the lock held; the lock is recursive so that the
 * callback can call ui_display()/ui_exit().  ui_exit() only sets an atomic
 * flag while ui_run() is running, so it never blocks there; the flag is
 * checked at least every UI_POLL_MS.  No self-pipe is used, so there is no
 * file descriptor that ui_exit() could write to after it was closed.
 *
 * Build: cc -std=c11 -D_XOPEN_SOURCE=700 -D_DEFAULT_SOURCE -c ui.c
 *        link with -lncursesw -pthread
 */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700
#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE 1
#endif
#ifndef _XOPEN_SOURCE_EXTENDED
#define _XOPEN_SOURCE_EXTENDED 1
#endif
#ifndef NCURSES_WIDECHAR
#define NCURSES_WIDECHAR 1
#endif

#include "ui.h"

#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

#if defined(__has_include)
#if __has_include(<ncursesw/ncurses.h>)
#include <ncursesw/ncurses.h>
#else
#include <ncurses.h>
#endif
#else
#include <ncurses.h>
#endif

#define UI_MAX_LINES 1000       /* lines kept for redrawing */
/* characters kept per line: a whole legal message (4096 bytes of text) with
 * its "[private to NAME] NAME: " prefix (names are at most 32 bytes) */
#define UI_MAX_LINE_CHARS (4096 + 128)
/* characters in the input field: more than any legal line, so a paste that is
 * too long reaches the node whole and is refused with its length, not cut */
#define UI_MAX_INPUT 16384
#define UI_POLL_MS 50           /* ui_exit() latency bound */
#define UI_KEYS_PER_BATCH 1024  /* keys handled before letting others in */
#define UI_EOF_POLLS 20         /* "readable" polls without a key = hang-up */

#define CP_INVALID UINT32_MAX
#define TRUNC_MARK L" [...]"

struct ui_line {
    wchar_t *text;   /* sanitised, no NUL inside, not NUL-terminated */
    size_t len;      /* characters in text */
    size_t name_len; /* leading characters drawn in bold (the user name) */
};

/* ---- state; everything below is protected by ui_lock unless atomic ---- */

static pthread_once_t lock_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t ui_lock;

static atomic_int exit_requested; /* set by ui_exit(), read by ui_run() */
static atomic_int running;        /* ui_run() is inside its loop */

static int active;                /* a curses screen exists */
static input_callback_t callback;
/* The line being handed to the callback (NULL otherwise): an ERROR shown from
 * inside the callback (the line was refused) puts it back into the field. */
static wchar_t *handing;
static size_t handing_len;
static SCREEN *screen;
static WINDOW *msg_win, *sep_win, *in_win;
static int utf8_locale;
static int quit_sent;             /* Ctrl+C/Ctrl+D already sent ":quit" */

static struct ui_line lines[UI_MAX_LINES];
static size_t line_head, line_count;

static wchar_t *input;            /* UI_MAX_INPUT characters */
static size_t input_len, input_cur, input_off;

/* ---- lock ---- */

static void lock_init(void)
{
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&ui_lock, &attr);
    pthread_mutexattr_destroy(&attr);
}

static void ui_lock_take(void)
{
    pthread_once(&lock_once, lock_init);
    pthread_mutex_lock(&ui_lock);
}

static void ui_lock_release(void)
{
    pthread_mutex_unlock(&ui_lock);
}

/* ---- UTF-8 ---- */

/*
 * Decodes one code point from s[0..n), n >= 1.  Returns the number of bytes
 * consumed (>= 1); *cp is CP_INVALID for an ill-formed sequence (overlongs,
 * surrogates and values above U+10FFFF are ill-formed), in which case the
 * maximal ill-formed prefix is consumed.
 */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char b = s[0], lo = 0x80, hi = 0xBF;
    size_t need, i;
    uint32_t c;

    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    if (b >= 0xC2 && b <= 0xDF) {
        need = 1;
        c = b & 0x1Fu;
    } else if (b >= 0xE0 && b <= 0xEF) {
        need = 2;
        c = b & 0x0Fu;
        if (b == 0xE0)
            lo = 0xA0;
        else if (b == 0xED)
            hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
        need = 3;
        c = b & 0x07u;
        if (b == 0xF0)
            lo = 0x90;
        else if (b == 0xF4)
            hi = 0x8F;
    } else {
        *cp = CP_INVALID;
        return 1;
    }
    for (i = 1; i <= need; i++) {
        if (i >= n || s[i] < lo || s[i] > hi) {
            *cp = CP_INVALID;
            return i;
        }
        lo = 0x80;
        hi = 0xBF;
        c = (c << 6) | (s[i] & 0x3Fu);
    }
    *cp = c;
    return need + 1;
}

/* Appends the UTF-8 encoding of cp (a valid scalar value) to out. */
static size_t utf8_put(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static int is_control(uint32_t cp)
{
    return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F);
}

static int is_scalar(uint32_t cp)
{
    return cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
}

/* Display width of a (sanitised) character; never negative. */
static int char_width(wchar_t c)
{
    int w = wcwidth(c);
    return w < 0 ? 1 : w;
}

/* The character drawn instead of something undisplayable. */
static wchar_t replacement(void)
{
    return utf8_locale ? (wchar_t)0xFFFD : L'?';
}

/* Code point -> character safe to hand to curses. */
static wchar_t screen_char(uint32_t cp)
{
    if (cp == CP_INVALID)
        return replacement();
    if (is_control(cp))
        return L'?';
    if (cp >= 0x80 && !utf8_locale)
        return L'?';
    if (wcwidth((wchar_t)cp) < 0)
        return replacement();
    return (wchar_t)cp;
}

/*
 * Appends the sanitised characters of the UTF-8 string s[0..n) to t, which
 * holds *len characters, up to `limit` characters.  Returns 0 if all of s
 * fit, 1 if it was truncated.
 */
static int append_sanitised(wchar_t *t, size_t *len, size_t limit,
                            const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < n) {
        uint32_t cp;
        if (*len >= limit)
            return 1;
        i += utf8_next(p + i, n - i, &cp);
        t[(*len)++] = screen_char(cp);
    }
    return 0;
}

/* Writes the UTF-8 string s to f with control characters and invalid
 * sequences replaced (stdout fallback of ui_display). */
static void fput_sanitised(const char *s, FILE *f)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), i = 0;

    while (i < n) {
        uint32_t cp;
        size_t k = utf8_next(p + i, n - i, &cp);
        if (cp == CP_INVALID)
            fputs("\xEF\xBF\xBD", f);
        else if (is_control(cp))
            fputc('?', f);
        else
            fwrite(p + i, 1, k, f);
        i += k;
    }
}

/* Input field -> newly allocated UTF-8 string (NULL if out of memory). */
static char *input_to_utf8(void)
{
    char *out = malloc(input_len * 4 + 1), *q = out;
    size_t i;

    if (!out)
        return NULL;
    for (i = 0; i < input_len; i++) {
        uint32_t cp = (uint32_t)input[i];
        q += utf8_put(is_scalar(cp) ? cp : 0xFFFD, q);
    }
    *q = '\0';
    return out;
}

/* ---- kept lines ---- */

static struct ui_line *line_at(size_t i) /* 0 = oldest */
{
    return &lines[(line_head + i) % UI_MAX_LINES];
}

static int make_line(struct ui_line *l, const char *name, const char *msg)
{
    size_t nl = name ? strlen(name) : 0, ml = msg ? strlen(msg) : 0;
    size_t limit = UI_MAX_LINE_CHARS - (sizeof TRUNC_MARK / sizeof(wchar_t));
    size_t cap = nl + ml + 2, len = 0;
    int truncated = 0;
    wchar_t *t;

    if (cap > limit)
        cap = limit;
    cap += sizeof TRUNC_MARK / sizeof(wchar_t);
    t = malloc(cap * sizeof(wchar_t));
    if (!t)
        return -1;
    if (nl > 0) {
        truncated = append_sanitised(t, &len, limit, name, nl);
        l->name_len = len;
        if (!truncated && len + 2 <= limit) {
            t[len++] = L':';
            t[len++] = L' ';
        } else {
            truncated = 1;
        }
    } else {
        l->name_len = 0;
    }
    if (!truncated && ml > 0)
        truncated = append_sanitised(t, &len, limit, msg, ml);
    if (truncated) {
        const wchar_t *m = TRUNC_MARK;
        while (*m)
            t[len++] = *m++;
    }
    l->text = t;
    l->len = len;
    return 0;
}

static void push_line(struct ui_line l)
{
    if (line_count == UI_MAX_LINES) {
        free(lines[line_head].text);
        lines[line_head] = l;
        line_head = (line_head + 1) % UI_MAX_LINES;
    } else {
        *line_at(line_count) = l;
        line_count++;
    }
}

static void free_lines(void)
{
    size_t i;
    for (i = 0; i < line_count; i++) {
        free(line_at(i)->text);
        line_at(i)->text = NULL;
    }
    line_head = line_count = 0;
}

/* ---- drawing (lock held, screen active) ---- */

/* End (exclusive) of the screen row of line l that starts at `start`. */
static size_t row_end(const struct ui_line *l, size_t start, int cols)
{
    size_t i = start;
    int w = 0;

    while (i < l->len) {
        int cw = char_width(l->text[i]);
        if (w + cw > cols)
            break;
        w += cw;
        i++;
    }
    if (i == start && i < l->len)
        i++; /* a character wider than the pane: give it a row anyway */
    return i;
}

static int line_rows(const struct ui_line *l, int cols)
{
    size_t i = 0;
    int rows = 0;

    do {
        i = row_end(l, i, cols);
        rows++;
    } while (i < l->len);
    return rows;
}

static void draw_row(const struct ui_line *l, size_t a, size_t b, int y)
{
    size_t split = l->name_len < a ? a : (l->name_len > b ? b : l->name_len);

    wmove(msg_win, y, 0);
    if (split > a) {
        wattron(msg_win, A_BOLD);
        waddnwstr(msg_win, l->text + a, (int)(split - a));
        wattroff(msg_win, A_BOLD);
    }
    if (b > split)
        waddnwstr(msg_win, l->text + split, (int)(b - split));
}

static void draw_messages(void)
{
    int height, width, total = 0, skip, y = 0;
    size_t k = 0, j;

    if (!msg_win)
        return;
    getmaxyx(msg_win, height, width);
    werase(msg_win);
    /* newest lines backwards until the pane is full */
    while (k < line_count && total < height) {
        total += line_rows(line_at(line_count - 1 - k), width);
        k++;
    }
    skip = total > height ? total - height : 0;
    for (j = line_count - k; j < line_count; j++) {
        const struct ui_line *l = line_at(j);
        size_t i = 0;
        do {
            size_t e = row_end(l, i, width);
            if (skip > 0)
                skip--;
            else if (y < height)
                draw_row(l, i, e, y++);
            i = e;
        } while (i < l->len);
    }
    wnoutrefresh(msg_win);
}

static void draw_separator(void)
{
    if (!sep_win)
        return;
    werase(sep_win);
    mvwhline(sep_win, 0, 0, ACS_HLINE, getmaxx(sep_win));
    wnoutrefresh(sep_win);
}

static void draw_input(void)
{
    int width, pw, avail, w = 0, shown = 0;
    size_t i;

    if (!in_win)
        return;
    width = getmaxx(in_win);
    pw = width >= 6 ? 2 : 0;
    /* the last column stays empty (bottom-right corner of the screen) */
    avail = width - pw - 1;
    if (avail < 0)
        avail = 0;

    /* horizontal scrolling: keep the cursor inside the field */
    if (input_off > input_cur)
        input_off = input_cur;
    for (i = input_off; i < input_cur; i++)
        w += char_width(input[i]);
    while (w > avail && input_off < input_cur)
        w -= char_width(input[input_off++]);
    if (input_off > 0) {
        int w0 = w;
        for (i = 0; i < input_off; i++)
            w0 += char_width(input[i]);
        if (w0 <= avail) {
            input_off = 0;
            w = w0;
        }
    }

    werase(in_win);
    if (pw)
        mvwaddstr(in_win, 0, 0, "> ");
    {
        int used = 0;
        for (i = input_off; i < input_len; i++) {
            int cw = char_width(input[i]);
            if (used + cw > avail)
                break;
            used += cw;
            shown++;
        }
    }
    if (shown > 0)
        mvwaddnwstr(in_win, 0, pw, input + input_off, shown);
    wmove(in_win, 0, pw + w);
    wnoutrefresh(in_win);
}

static void redraw_all(void)
{
    draw_messages();
    draw_separator();
    draw_input(); /* last: it owns the cursor */
    doupdate();
}

static void destroy_windows(void)
{
    if (msg_win)
        delwin(msg_win);
    if (sep_win)
        delwin(sep_win);
    if (in_win)
        delwin(in_win);
    msg_win = sep_win = in_win = NULL;
}

static void layout(void)
{
    int rows = LINES < 1 ? 1 : LINES, cols = COLS < 1 ? 1 : COLS;
    int msg_h = rows >= 3 ? rows - 2 : rows - 1;

    destroy_windows();
    if (msg_h > 0)
        msg_win = newwin(msg_h, cols, 0, 0);
    if (rows >= 3)
        sep_win = newwin(1, cols, rows - 2, 0);
    in_win = newwin(1, cols, rows - 1, 0);
    if (in_win) {
        keypad(in_win, TRUE);
        nodelay(in_win, TRUE);
    }
}

static WINDOW *key_window(void)
{
    return in_win ? in_win : stdscr;
}

static void teardown(void)
{
    destroy_windows();
    endwin();
    delscreen(screen);
    screen = NULL;
    free_lines();
    free(input);
    input = NULL;
    input_len = input_cur = input_off = 0;
    active = 0;
    fflush(stdout);
}

/* ---- input handling (lock held, screen active) ---- */

static void request_exit(void)
{
    atomic_store(&exit_requested, 1);
}

static void send_line(const char *line)
{
    if (callback)
        callback(line);
}

static void submit(void)
{
    char *line;
    wchar_t *copy;

    if (input_len == 0)
        return;
    line = input_to_utf8();
    copy = malloc(input_len * sizeof(wchar_t));
    if (copy)
        memcpy(copy, input, input_len * sizeof(wchar_t));
    handing_len = input_len;
    input_len = input_cur = input_off = 0;
    draw_input();
    doupdate();
    if (line) {
        handing = copy;
        send_line(line);
        handing = NULL;
        free(line);
    }
    free(copy);
}

/* The line handed to the callback was refused: give it back for editing
 * (unless something was typed meanwhile, which cannot happen on this thread). */
static void restore_handed(void)
{
    if (!handing || input_len != 0 || !input)
        return;
    memcpy(input, handing, handing_len * sizeof(wchar_t));
    input_len = input_cur = handing_len;
    input_off = 0;
    handing = NULL;
    draw_input();
}

static void quit_key(void)
{
    if (quit_sent || !callback) {
        request_exit();
        return;
    }
    quit_sent = 1;
    send_line(":quit");
}

static void delete_at(size_t pos, size_t count)
{
    memmove(input + pos, input + pos + count,
            (input_len - pos - count) * sizeof(wchar_t));
    input_len -= count;
}

static void insert_char(wchar_t c)
{
    if (input_len >= UI_MAX_INPUT) {
        beep();
        return;
    }
    memmove(input + input_cur + 1, input + input_cur,
            (input_len - input_cur) * sizeof(wchar_t));
    input[input_cur++] = c;
    input_len++;
}

static void backspace(void)
{
    if (input_cur == 0)
        return;
    input_cur--;
    delete_at(input_cur, 1);
}

static void handle_char(wint_t ch)
{
    switch (ch) {
    case L'\n':
    case L'\r':
        submit();
        return;
    case 127:
    case 8:
        backspace();
        return;
    case 3:  /* Ctrl+C */
    case 4:  /* Ctrl+D */
        quit_key();
        return;
    case 1:  /* Ctrl+A */
        input_cur = 0;
        return;
    case 5:  /* Ctrl+E */
        input_cur = input_len;
        return;
    case 2:  /* Ctrl+B */
        if (input_cur > 0)
            input_cur--;
        return;
    case 6:  /* Ctrl+F */
        if (input_cur < input_len)
            input_cur++;
        return;
    case 11: /* Ctrl+K: delete to end */
        input_len = input_cur;
        return;
    case 21: /* Ctrl+U: delete to start */
        delete_at(0, input_cur);
        input_cur = 0;
        input_off = 0;
        return;
    case 12: /* Ctrl+L: repaint everything */
        clearok(curscr, TRUE);
        redraw_all();
        return;
    default:
        break;
    }
    if (is_control((uint32_t)ch) || !is_scalar((uint32_t)ch))
        return; /* Esc (Alt prefix), Tab and other controls are ignored */
    if (wcwidth((wchar_t)ch) < 0)
        return;
    insert_char((wchar_t)ch);
}

static void handle_key(wint_t key)
{
    switch (key) {
    case KEY_ENTER:
        submit();
        break;
    case KEY_BACKSPACE:
        backspace();
        break;
    case KEY_DC:
        if (input_cur < input_len)
            delete_at(input_cur, 1);
        break;
    case KEY_LEFT:
        if (input_cur > 0)
            input_cur--;
        break;
    case KEY_RIGHT:
        if (input_cur < input_len)
            input_cur++;
        break;
    case KEY_HOME:
        input_cur = 0;
        break;
    case KEY_END:
        input_cur = input_len;
        break;
    case KEY_RESIZE:
        layout();
        clearok(curscr, TRUE);
        redraw_all();
        break;
    default:
        break;
    }
}

/* Reads and handles the keys available now.  Returns how many were read. */
static int process_input(void)
{
    int n = 0;

    while (n < UI_KEYS_PER_BATCH && active && !atomic_load(&exit_requested)) {
        wint_t ch;
        int rc = wget_wch(key_window(), &ch);
        if (rc == ERR)
            break;
        n++;
        if (rc == KEY_CODE_YES)
            handle_key(ch);
        else
            handle_char(ch);
    }
    if (n > 0 && active && !atomic_load(&exit_requested)) {
        draw_input();
        doupdate();
    }
    return n;
}

/* The terminal is gone: quit through the normal path. */
static void hang_up(void)
{
    if (!quit_sent) {
        quit_sent = 1;
        send_line(":quit");
    }
    request_exit();
}

/* ---- public interface ---- */

void ui_init(input_callback_t cb)
{
    const char *codeset, *term;

    ui_lock_take();
    callback = cb;
    if (active) {
        ui_lock_release();
        return;
    }
    atomic_store(&exit_requested, 0);
    quit_sent = 0;

    setlocale(LC_ALL, "");
    codeset = nl_langinfo(CODESET);
    utf8_locale = codeset && (strcmp(codeset, "UTF-8") == 0 ||
                              strcmp(codeset, "utf8") == 0);

    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        fprintf(stderr, "ui: standard input or output is not a terminal; "
                        "the curses interface is disabled\n");
        ui_lock_release();
        return;
    }
    term = getenv("TERM");
    if (!term || !*term) {
        fprintf(stderr, "ui: TERM is not set; the curses interface is "
                        "disabled\n");
        ui_lock_release();
        return;
    }
    input = calloc(UI_MAX_INPUT + 1, sizeof(wchar_t));
    if (!input) {
        fprintf(stderr, "ui: out of memory\n");
        ui_lock_release();
        return;
    }
    fflush(stdout);
    screen = newterm(NULL, stdout, stdin);
    if (!screen) {
        fprintf(stderr, "ui: cannot initialise terminal type \"%s\"; the "
                        "curses interface is disabled\n", term);
        free(input);
        input = NULL;
        ui_lock_release();
        return;
    }
    set_term(screen);
    raw();   /* Ctrl+C, Ctrl+Z, ... arrive as keys */
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    set_escdelay(25);
    curs_set(1);
    input_len = input_cur = input_off = 0;
    active = 1;
    layout();
    redraw_all();
    ui_lock_release();
}

void ui_run(void)
{
    int eof_polls = 0;

    ui_lock_take();
    if (!active || atomic_load(&running)) {
        ui_lock_release();
        return;
    }
    atomic_store(&running, 1);
    ui_lock_release();

    while (!atomic_load(&exit_requested)) {
        struct pollfd p;
        int r, got, hup;

        p.fd = STDIN_FILENO;
        p.events = POLLIN;
        p.revents = 0;
        r = poll(&p, 1, UI_POLL_MS);
        if (r < 0 && errno != EINTR && errno != EAGAIN) {
            ui_lock_take();
            hang_up();
            ui_lock_release();
            break;
        }
        /* also when nothing is readable: picks up SIGWINCH (KEY_RESIZE)
         * even when the signal was delivered to another thread */
        ui_lock_take();
        got = process_input();
        hup = r > 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL));
        if (r > 0 && (p.revents & POLLIN) && got == 0)
            eof_polls++; /* readable, yet no key: end of file */
        else
            eof_polls = 0;
        if (hup || eof_polls >= UI_EOF_POLLS)
            hang_up();
        ui_lock_release();
    }

    ui_lock_take();
    if (active)
        teardown();
    atomic_store(&running, 0);
    ui_lock_release();
}

void ui_display(const char *username, const char *message)
{
    ui_lock_take();
    if (!active) {
        if (username && *username) {
            fput_sanitised(username, stdout);
            fputs(": ", stdout);
        }
        fput_sanitised(message ? message : "", stdout);
        fputc('\n', stdout);
        fflush(stdout);
    } else {
        struct ui_line l;
        if (make_line(&l, username, message) == 0)
            push_line(l);
        if (handing && username && strcmp(username, "ERROR") == 0)
            restore_handed();
        draw_messages();
        if (in_win)
            wnoutrefresh(in_win); /* cursor back into the input field */
        doupdate();
    }
    ui_lock_release();
}

void ui_exit(void)
{
    request_exit();
    if (atomic_load(&running))
        return; /* ui_run() will restore the terminal */
    /* ui_run() is not running (and, since the flag is already set, will not
     * call the input callback if it starts now): restore the terminal here */
    ui_lock_take();
    if (active && !atomic_load(&running))
        teardown();
    ui_lock_release();
}

void ui_stop(void)
{
    ui_exit();
}
