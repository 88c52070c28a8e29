/*
 * nodes.c - running nodes on 127.0.0.1 through the public header only: two nodes
 * exchanging messages, stop and free in every order, and the rule that no
 * callback runs after p2pchat_node_free() returns.
 *
 * Every wait is bounded (WAIT_MS) and waits on a condition variable that the
 * event callback signals.
 */
#include "ctest.h"

#include <errno.h>
#include <p2pchat.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#define WAIT_MS 10000

/* What one node's callback has seen, under `mu`. */
struct seen {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    const char *want_from; /* the other member's name */
    const char *want_text; /* the text expected from it */
    int listening;
    uint16_t listening_port;
    int joined;    /* JOINED from want_from */
    int got_text;  /* MESSAGE want_text from want_from */
    int messages;  /* MESSAGE events of any kind */
    int stopped;   /* STOPPED seen */
    int after_stop;/* events after STOPPED (must stay 0) */
    int malformed; /* events breaking the documented shape */
    int calls;     /* every call */
};

static void seen_init(struct seen *s, const char *want_from, const char *want_text)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->want_from = want_from;
    s->want_text = want_text;
}

static void seen_destroy(struct seen *s)
{
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
}

static int same(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

static void on_event(void *userdata, const p2pchat_event *ev)
{
    struct seen *s = userdata;

    pthread_mutex_lock(&s->mu);
    s->calls++;
    if (s->stopped)
        s->after_stop++;
    if ((ev->username == NULL) != (ev->message == NULL))
        s->malformed++;
    if ((ev->json == NULL) != (ev->kind == P2PCHAT_EVENT_KIND_STOPPED))
        s->malformed++;
    switch (ev->kind) {
    case P2PCHAT_EVENT_KIND_LISTENING:
        s->listening = 1;
        s->listening_port = ev->port;
        if (!ev->message || !strstr(ev->message, "listening on port"))
            s->malformed++;
        break;
    case P2PCHAT_EVENT_KIND_JOINED:
        if (same(ev->name, s->want_from))
            s->joined = 1;
        break;
    case P2PCHAT_EVENT_KIND_MESSAGE:
        s->messages++;
        if (same(ev->name, s->want_from) && same(ev->message, s->want_text))
            s->got_text = 1;
        if (!ev->json || !strstr(ev->json, "\"event\":\"message\""))
            s->malformed++;
        break;
    case P2PCHAT_EVENT_KIND_STOPPED:
        s->stopped = 1;
        break;
    default:
        break;
    }
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Waits until *flag is non-zero (read under s->mu), at most WAIT_MS. */
static int wait_flag(struct seen *s, const int *flag)
{
    struct timespec deadline;
    int ok, rc = 0;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += WAIT_MS / 1000;
    pthread_mutex_lock(&s->mu);
    while (!*flag && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&s->cv, &s->mu, &deadline);
    ok = *flag != 0;
    pthread_mutex_unlock(&s->mu);
    return ok;
}

static int read_int(struct seen *s, const int *field)
{
    int v;
    pthread_mutex_lock(&s->mu);
    v = *field;
    pthread_mutex_unlock(&s->mu);
    return v;
}

/* A node named `name` on 127.0.0.1, joining `join_port` unless it is 0. */
static p2pchat_status start(const char *name, uint16_t join_port, struct seen *s,
                            p2pchat_node **out)
{
    p2pchat_config *cfg = NULL;
    p2pchat_status st = p2pchat_config_new(name, &cfg);

    if (st == P2PCHAT_STATUS_OK)
        st = p2pchat_config_set_bind(cfg, "127.0.0.1");
    if (st == P2PCHAT_STATUS_OK && join_port != 0)
        st = p2pchat_config_add_connect(cfg, "127.0.0.1", join_port);
    if (st == P2PCHAT_STATUS_OK)
        st = p2pchat_node_new(cfg, s ? on_event : NULL, s, out);
    if (st != P2PCHAT_STATUS_OK)
        fprintf(stderr, "starting %s: %s: %s\n", name, p2pchat_status_text(st),
                p2pchat_last_error());
    /* the node keeps its own copy of the configuration */
    p2pchat_config_free(cfg);
    return st;
}

/* Node B joins node A's port; each receives the other's text. */
int ctest_two_nodes_exchange_messages(void)
{
    struct seen a, b;
    p2pchat_node *na = NULL, *nb = NULL;
    uint16_t port = 0;

    seen_init(&a, "bob", "hello from bob");
    seen_init(&b, "alice", "hello from alice");

    CHECK_STATUS(start("alice", 0, &a, &na), P2PCHAT_STATUS_OK);
    CHECK_STATUS(p2pchat_node_port(na, &port), P2PCHAT_STATUS_OK);
    CHECK(port != 0);
    CHECK(wait_flag(&a, &a.listening));
    CHECK(read_int(&a, &a.listening) && a.listening_port == port);
    CHECK(p2pchat_node_is_running(na));

    CHECK_STATUS(start("bob", port, &b, &nb), P2PCHAT_STATUS_OK);
    CHECK(wait_flag(&a, &a.joined));
    CHECK(wait_flag(&b, &b.joined));

    CHECK_STATUS(p2pchat_node_send(na, "hello from alice"), P2PCHAT_STATUS_OK);
    CHECK_STATUS(p2pchat_node_send(nb, "hello from bob"), P2PCHAT_STATUS_OK);
    CHECK(wait_flag(&b, &b.got_text));
    CHECK(wait_flag(&a, &a.got_text));

    /* commands, with and without the prefix, and a mistake: no failure here */
    CHECK_STATUS(p2pchat_node_command(na, "peers"), P2PCHAT_STATUS_OK);
    CHECK_STATUS(p2pchat_node_command(na, ":users"), P2PCHAT_STATUS_OK);
    CHECK_STATUS(p2pchat_node_command(na, "::not a command"), P2PCHAT_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(p2pchat_node_send(na, ":no-such-command"), P2PCHAT_STATUS_OK);
    CHECK_STATUS(p2pchat_node_send(na, "bad \xff utf-8"), P2PCHAT_STATUS_INVALID_UTF8);
    CHECK_STATUS(p2pchat_node_connect(na, "127.0.0.1", 0), P2PCHAT_STATUS_INVALID_ARGUMENT);

    CHECK_STATUS(p2pchat_node_stop(nb), P2PCHAT_STATUS_OK);
    CHECK(read_int(&b, &b.stopped));
    CHECK(!p2pchat_node_is_running(nb));
    CHECK_STATUS(p2pchat_node_stop(na), P2PCHAT_STATUS_OK);
    CHECK(read_int(&a, &a.stopped));
    p2pchat_node_free(nb);
    p2pchat_node_free(na);

    CHECK(a.after_stop == 0 && b.after_stop == 0);
    CHECK(a.malformed == 0 && b.malformed == 0);
    seen_destroy(&a);
    seen_destroy(&b);
    return 0;
}

/* stop twice, stop then free, wait after stop, send after stop. */
int ctest_double_stop_and_stop_then_free(void)
{
    struct seen s;
    p2pchat_node *node = NULL;
    uint16_t port = 0;

    seen_init(&s, "nobody", "nothing");
    CHECK_STATUS(start("stopper", 0, &s, &node), P2PCHAT_STATUS_OK);
    CHECK_STATUS(p2pchat_node_stop(node), P2PCHAT_STATUS_OK);
    CHECK(read_int(&s, &s.stopped));
    CHECK_STATUS(p2pchat_node_stop(node), P2PCHAT_STATUS_OK);
    CHECK_STATUS(p2pchat_node_wait(node), P2PCHAT_STATUS_OK);
    CHECK_STATUS(p2pchat_node_send(node, "anyone?"), P2PCHAT_STATUS_STOPPED);
    CHECK_STATUS(p2pchat_node_command(node, "peers"), P2PCHAT_STATUS_STOPPED);
    CHECK_STATUS(p2pchat_node_connect(node, "127.0.0.1", 9), P2PCHAT_STATUS_STOPPED);
    CHECK_STATUS(p2pchat_node_port(node, &port), P2PCHAT_STATUS_OK);
    CHECK(port != 0);
    CHECK(!p2pchat_node_is_running(node));
    p2pchat_node_free(node);
    CHECK(s.after_stop == 0);
    seen_destroy(&s);

    /* free without stop, and without a callback */
    CHECK_STATUS(start("quiet", 0, NULL, &node), P2PCHAT_STATUS_OK);
    p2pchat_node_free(node);
    return 0;
}

/* ":quit" typed into the node stops it; wait returns then. */
int ctest_quit_command_stops_the_node_and_wait_returns(void)
{
    struct seen s;
    p2pchat_node *node = NULL;

    seen_init(&s, "nobody", "nothing");
    CHECK_STATUS(start("quitter", 0, &s, &node), P2PCHAT_STATUS_OK);
    CHECK_STATUS(p2pchat_node_send(node, ":quit"), P2PCHAT_STATUS_OK);
    CHECK_STATUS(p2pchat_node_wait(node), P2PCHAT_STATUS_OK);
    CHECK(read_int(&s, &s.stopped));
    CHECK(!p2pchat_node_is_running(node));
    p2pchat_node_free(node);
    seen_destroy(&s);
    return 0;
}

/* Binding a port that is taken fails with IO_ERROR and a reason. */
int ctest_port_in_use_is_an_io_error(void)
{
    p2pchat_node *first = NULL, *second = (p2pchat_node *)0x1;
    p2pchat_config *cfg = NULL;
    uint16_t port = 0;

    CHECK_STATUS(start("first", 0, NULL, &first), P2PCHAT_STATUS_OK);
    CHECK_STATUS(p2pchat_node_port(first, &port), P2PCHAT_STATUS_OK);
    CHECK_STATUS(p2pchat_config_new("second", &cfg), P2PCHAT_STATUS_OK);
    CHECK_STATUS(p2pchat_config_set_bind(cfg, "127.0.0.1"), P2PCHAT_STATUS_OK);
    CHECK_STATUS(p2pchat_config_set_port(cfg, port), P2PCHAT_STATUS_OK);
    CHECK_STATUS(p2pchat_node_new(cfg, NULL, NULL, &second), P2PCHAT_STATUS_IO_ERROR);
    CHECK(second == (p2pchat_node *)0x1);
    CHECK(strstr(p2pchat_last_error(), "cannot listen") != NULL);
    p2pchat_config_free(cfg);
    p2pchat_node_free(first);
    return 0;
}

/* ---- no callback after free ---- */

static atomic_int freed;          /* set once p2pchat_node_free() returned */
static atomic_int late_calls;     /* callbacks that started after that */
static atomic_int receiver_calls; /* every callback of the receiver */

static void counting_cb(void *userdata, const p2pchat_event *ev)
{
    (void)userdata;
    (void)ev;
    if (atomic_load(&freed))
        atomic_fetch_add(&late_calls, 1);
    atomic_fetch_add(&receiver_calls, 1);
    /* stay a little while, so that free() meets a callback in progress */
    ctest_sleep_ms(1);
    if (atomic_load(&freed))
        atomic_fetch_add(&late_calls, 1);
}

struct spammer {
    p2pchat_node *node;
    atomic_int stop;
    int sent;
};

static void *spam(void *arg)
{
    struct spammer *sp = arg;
    char line[64];

    while (!atomic_load(&sp->stop) && sp->sent < 5000) {
        snprintf(line, sizeof line, "message %d", sp->sent);
        if (p2pchat_node_send(sp->node, line) != P2PCHAT_STATUS_OK)
            break;
        sp->sent++;
        ctest_sleep_ms(1);
    }
    return NULL;
}

/* While a peer keeps sending, the receiver is freed: once free() returned, its
 * callback never runs again. */
int ctest_no_callback_after_free(void)
{
    struct seen a;
    p2pchat_node *sender = NULL, *receiver = NULL;
    struct spammer sp;
    pthread_t thread;
    uint16_t port = 0;
    int i, before;

    atomic_store(&freed, 0);
    atomic_store(&late_calls, 0);
    atomic_store(&receiver_calls, 0);
    seen_init(&a, "receiver", "-");
    CHECK_STATUS(start("sender", 0, &a, &sender), P2PCHAT_STATUS_OK);
    CHECK_STATUS(p2pchat_node_port(sender, &port), P2PCHAT_STATUS_OK);
    {
        p2pchat_config *cfg = NULL;
        CHECK_STATUS(p2pchat_config_new("receiver", &cfg), P2PCHAT_STATUS_OK);
        CHECK_STATUS(p2pchat_config_set_bind(cfg, "127.0.0.1"), P2PCHAT_STATUS_OK);
        CHECK_STATUS(p2pchat_config_add_connect(cfg, "127.0.0.1", port), P2PCHAT_STATUS_OK);
        CHECK_STATUS(p2pchat_node_new(cfg, counting_cb, NULL, &receiver), P2PCHAT_STATUS_OK);
        p2pchat_config_free(cfg);
    }
    CHECK(wait_flag(&a, &a.joined));

    sp.node = sender;
    atomic_store(&sp.stop, 0);
    sp.sent = 0;
    CHECK(pthread_create(&thread, NULL, spam, &sp) == 0);
    /* wait until messages flow to the receiver */
    before = atomic_load(&receiver_calls);
    for (i = 0; i < WAIT_MS / 10 && atomic_load(&receiver_calls) < before + 20; i++)
        ctest_sleep_ms(10);
    CHECK(atomic_load(&receiver_calls) >= before + 20);

    p2pchat_node_free(receiver);
    atomic_store(&freed, 1);
    /* traffic goes on for a while: nothing may reach the freed node's callback */
    ctest_sleep_ms(300);
    atomic_store(&sp.stop, 1);
    pthread_join(thread, NULL);
    CHECK(atomic_load(&late_calls) == 0);
    CHECK(sp.sent > 0);

    p2pchat_node_free(sender);
    seen_destroy(&a);
    return 0;
}

/* ---- free from inside the callback: no deadlock, no further callback ---- */

struct self_freeing {
    p2pchat_node *_Atomic node;
    atomic_int freed_in_callback;
    atomic_int calls_after;
};

static void self_freeing_cb(void *userdata, const p2pchat_event *ev)
{
    struct self_freeing *sf = userdata;
    p2pchat_node *node = atomic_load(&sf->node);

    if (atomic_load(&sf->freed_in_callback)) {
        atomic_fetch_add(&sf->calls_after, 1);
        return;
    }
    if (node && ev->kind == P2PCHAT_EVENT_KIND_MESSAGE) {
        p2pchat_node_free(node); /* a misuse the library survives */
        atomic_store(&sf->freed_in_callback, 1);
    }
}

int ctest_free_from_inside_the_callback_does_not_deadlock(void)
{
    static struct self_freeing sf; /* outlives the node, whatever happens */
    p2pchat_config *cfg = NULL;
    p2pchat_node *node = NULL;
    int i;

    atomic_store(&sf.node, NULL);
    atomic_store(&sf.freed_in_callback, 0);
    atomic_store(&sf.calls_after, 0);
    CHECK_STATUS(p2pchat_config_new("selfish", &cfg), P2PCHAT_STATUS_OK);
    CHECK_STATUS(p2pchat_config_set_bind(cfg, "127.0.0.1"), P2PCHAT_STATUS_OK);
    CHECK_STATUS(p2pchat_node_new(cfg, self_freeing_cb, &sf, &node), P2PCHAT_STATUS_OK);
    p2pchat_config_free(cfg);
    atomic_store(&sf.node, node);
    /* the node echoes its own message: the callback frees the node then */
    CHECK_STATUS(p2pchat_node_send(node, "free me"), P2PCHAT_STATUS_OK);
    for (i = 0; i < WAIT_MS / 10 && !atomic_load(&sf.freed_in_callback); i++)
        ctest_sleep_ms(10);
    CHECK(atomic_load(&sf.freed_in_callback));
    ctest_sleep_ms(200); /* the stop and its STOPPED event would come now */
    CHECK(atomic_load(&sf.calls_after) == 0);
    return 0;
}
