/*
 * api.c - the parts of p2pchat.h that need no network: NULL arguments, status
 * texts, configurations, the command line.
 */
#include "ctest.h"

#include <p2pchat.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SENTINEL ((void *)0x1)

/* Every function that takes a pointer refuses NULL with NULL_ARGUMENT and leaves
 * its out-parameter untouched. */
int ctest_null_arguments(void)
{
    p2pchat_config *cfg = NULL, *out_cfg = (p2pchat_config *)SENTINEL;
    p2pchat_node *out_node = (p2pchat_node *)SENTINEL;
    const char *argv[] = {"p2pchat", "alice", NULL};
    const char *argv_hole[] = {"p2pchat", NULL, "x"};

    CHECK_STATUS(p2pchat_config_new(NULL, &out_cfg), P2PCHAT_STATUS_NULL_ARGUMENT);
    CHECK(out_cfg == SENTINEL);
    CHECK(strlen(p2pchat_last_error()) > 0);
    CHECK_STATUS(p2pchat_config_new("alice", NULL), P2PCHAT_STATUS_NULL_ARGUMENT);

    CHECK_STATUS(p2pchat_config_from_args(2, argv, NULL), P2PCHAT_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(p2pchat_config_from_args(2, NULL, &out_cfg), P2PCHAT_STATUS_NULL_ARGUMENT);
    CHECK(out_cfg == SENTINEL);
    CHECK_STATUS(p2pchat_config_from_args(3, argv_hole, &out_cfg), P2PCHAT_STATUS_NULL_ARGUMENT);
    CHECK(out_cfg == SENTINEL);
    CHECK_STATUS(p2pchat_config_from_args(-1, argv, &out_cfg), P2PCHAT_STATUS_INVALID_ARGUMENT);
    CHECK(out_cfg == SENTINEL);

    CHECK_STATUS(p2pchat_config_set_port(NULL, 1), P2PCHAT_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(p2pchat_config_set_bind(NULL, "127.0.0.1"), P2PCHAT_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(p2pchat_config_add_connect(NULL, "127.0.0.1", 1), P2PCHAT_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(p2pchat_config_set_log(NULL, "/tmp/x.log"), P2PCHAT_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(p2pchat_config_set_mode(NULL, P2PCHAT_MODE_JSON), P2PCHAT_STATUS_NULL_ARGUMENT);
    CHECK(p2pchat_config_mode(NULL) == -1);

    CHECK_STATUS(p2pchat_config_new("alice", &cfg), P2PCHAT_STATUS_OK);
    CHECK(cfg != NULL);
    CHECK(strcmp(p2pchat_last_error(), "") == 0);
    CHECK_STATUS(p2pchat_config_set_bind(cfg, NULL), P2PCHAT_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(p2pchat_config_add_connect(cfg, NULL, 1), P2PCHAT_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(p2pchat_config_set_log(cfg, NULL), P2PCHAT_STATUS_NULL_ARGUMENT);

    CHECK_STATUS(p2pchat_node_new(NULL, NULL, NULL, &out_node), P2PCHAT_STATUS_NULL_ARGUMENT);
    CHECK(out_node == SENTINEL);
    CHECK_STATUS(p2pchat_node_new(cfg, NULL, NULL, NULL), P2PCHAT_STATUS_NULL_ARGUMENT);

    {
        uint16_t port = 7;
        uint64_t id = 7;
        CHECK_STATUS(p2pchat_node_send(NULL, "hi"), P2PCHAT_STATUS_NULL_ARGUMENT);
        CHECK_STATUS(p2pchat_node_command(NULL, "peers"), P2PCHAT_STATUS_NULL_ARGUMENT);
        CHECK_STATUS(p2pchat_node_connect(NULL, "127.0.0.1", 1), P2PCHAT_STATUS_NULL_ARGUMENT);
        CHECK_STATUS(p2pchat_node_port(NULL, &port), P2PCHAT_STATUS_NULL_ARGUMENT);
        CHECK(port == 7);
        CHECK_STATUS(p2pchat_node_id(NULL, &id), P2PCHAT_STATUS_NULL_ARGUMENT);
        CHECK(id == 7);
        CHECK_STATUS(p2pchat_node_stop(NULL), P2PCHAT_STATUS_NULL_ARGUMENT);
        CHECK_STATUS(p2pchat_node_wait(NULL), P2PCHAT_STATUS_NULL_ARGUMENT);
        CHECK(!p2pchat_node_is_running(NULL));
    }

    /* NULL strings and out-parameters with a live node */
    CHECK_STATUS(p2pchat_config_set_bind(cfg, "127.0.0.1"), P2PCHAT_STATUS_OK);
    {
        p2pchat_node *node = NULL;
        CHECK_STATUS(p2pchat_node_new(cfg, NULL, NULL, &node), P2PCHAT_STATUS_OK);
        CHECK(node != NULL);
        CHECK_STATUS(p2pchat_node_send(node, NULL), P2PCHAT_STATUS_NULL_ARGUMENT);
        CHECK_STATUS(p2pchat_node_command(node, NULL), P2PCHAT_STATUS_NULL_ARGUMENT);
        CHECK_STATUS(p2pchat_node_connect(node, NULL, 1), P2PCHAT_STATUS_NULL_ARGUMENT);
        CHECK_STATUS(p2pchat_node_port(node, NULL), P2PCHAT_STATUS_NULL_ARGUMENT);
        CHECK_STATUS(p2pchat_node_id(node, NULL), P2PCHAT_STATUS_NULL_ARGUMENT);
        {
            /* a text over 4096 bytes is refused at once, with its length */
            static char text[4097 + 1];
            static char private_line[4097 + 16];
            memset(text, 'x', 4097);
            CHECK_STATUS(p2pchat_node_send(node, text), P2PCHAT_STATUS_TOO_LONG);
            CHECK(strcmp(p2pchat_last_error(),
                         "message not sent: it is 4097 bytes long; the limit is 4096 bytes") == 0);
            snprintf(private_line, sizeof private_line, ":msg bob %s", text);
            CHECK_STATUS(p2pchat_node_send(node, private_line), P2PCHAT_STATUS_TOO_LONG);
            text[4096] = '\0';
            CHECK_STATUS(p2pchat_node_send(node, text), P2PCHAT_STATUS_OK);
        }
        p2pchat_node_free(node);
    }
    {
        char err[512];
        int status;
        CHECK(ctest_capture_begin(2) == 0);
        status = p2pchat_run_headless(NULL);
        ctest_capture_end(err, sizeof err);
        CHECK(status == 1);
        CHECK(strstr(err, "NULL") != NULL);
    }

    p2pchat_config_free(cfg);
    return 0;
}

/* _free(NULL) is a no-op for both objects. */
int ctest_free_null_is_a_no_op(void)
{
    p2pchat_node_free(NULL);
    p2pchat_config_free(NULL);
    return 0;
}

/* Every status has a text; numbers that are not statuses say so. */
int ctest_status_texts(void)
{
    int code;

    CHECK(strcmp(p2pchat_status_text(-1), "unknown status code") == 0);
    CHECK(strcmp(p2pchat_status_text(9999), "unknown status code") == 0);
    CHECK(strcmp(p2pchat_status_text(13), "unknown status code") == 0);
    CHECK(strcmp(p2pchat_status_text(INT32_MIN), "unknown status code") == 0);
    CHECK(strcmp(p2pchat_status_text(P2PCHAT_STATUS_OK), "success") == 0);
    for (code = P2PCHAT_STATUS_OK; code <= P2PCHAT_STATUS_BAD_FILE; code++) {
        const char *text = p2pchat_status_text(code);
        CHECK(text != NULL);
        CHECK(strlen(text) > 0);
        CHECK(strcmp(text, "unknown status code") != 0);
    }
    /* the stable numbers */
    CHECK(P2PCHAT_STATUS_NULL_ARGUMENT == 1 && P2PCHAT_STATUS_INVALID_UTF8 == 2);
    CHECK(P2PCHAT_STATUS_INVALID_NAME == 3 && P2PCHAT_STATUS_INVALID_ARGUMENT == 4);
    CHECK(P2PCHAT_STATUS_IO_ERROR == 5 && P2PCHAT_STATUS_STOPPED == 6);
    CHECK(P2PCHAT_STATUS_PANIC == 7 && P2PCHAT_STATUS_TOO_LONG == 8);
    CHECK(P2PCHAT_STATUS_HELP == 9 && P2PCHAT_STATUS_VERSION == 10);
    CHECK(P2PCHAT_STATUS_USAGE == 11 && P2PCHAT_STATUS_BAD_FILE == 12);
    CHECK(P2PCHAT_MODE_UI == 0 && P2PCHAT_MODE_HEADLESS == 1 && P2PCHAT_MODE_JSON == 2);
    CHECK(P2PCHAT_TEXT_CLIENTS_AUTO == 0 && P2PCHAT_TEXT_CLIENTS_ANY == 1);
    CHECK(P2PCHAT_TEXT_CLIENTS_LOOPBACK == 2 && P2PCHAT_TEXT_CLIENTS_OFF == 3);
    CHECK(p2pchat_version() != NULL && p2pchat_version()[0] != '\0');
    return 0;
}

/* Names, addresses, hosts and modes are checked; out-parameters stay untouched. */
int ctest_config_checks_its_arguments(void)
{
    p2pchat_config *cfg = NULL, *out = (p2pchat_config *)SENTINEL;
    char long_name[40];

    memset(long_name, 'x', 33);
    long_name[33] = '\0';
    CHECK_STATUS(p2pchat_config_new("", &out), P2PCHAT_STATUS_INVALID_NAME);
    CHECK_STATUS(p2pchat_config_new("two words", &out), P2PCHAT_STATUS_INVALID_NAME);
    CHECK_STATUS(p2pchat_config_new("esc\x1b", &out), P2PCHAT_STATUS_INVALID_NAME);
    CHECK_STATUS(p2pchat_config_new(long_name, &out), P2PCHAT_STATUS_INVALID_NAME);
    CHECK_STATUS(p2pchat_config_new("bad\xff", &out), P2PCHAT_STATUS_INVALID_UTF8);
    CHECK(out == SENTINEL);
    long_name[32] = '\0';
    CHECK_STATUS(p2pchat_config_new(long_name, &cfg), P2PCHAT_STATUS_OK);
    p2pchat_config_free(cfg);

    CHECK_STATUS(p2pchat_config_new("\xc3\xa9lodie", &cfg), P2PCHAT_STATUS_OK);
    CHECK(p2pchat_config_mode(cfg) == P2PCHAT_MODE_UI);
    CHECK_STATUS(p2pchat_config_set_mode(cfg, P2PCHAT_MODE_JSON), P2PCHAT_STATUS_OK);
    CHECK(p2pchat_config_mode(cfg) == P2PCHAT_MODE_JSON);
    CHECK_STATUS(p2pchat_config_set_mode(cfg, 3), P2PCHAT_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(p2pchat_config_set_mode(cfg, -1), P2PCHAT_STATUS_INVALID_ARGUMENT);
    CHECK(p2pchat_config_mode(cfg) == P2PCHAT_MODE_JSON);

    CHECK_STATUS(p2pchat_config_set_port(cfg, 0), P2PCHAT_STATUS_OK);
    CHECK_STATUS(p2pchat_config_set_port(cfg, 65535), P2PCHAT_STATUS_OK);
    CHECK_STATUS(p2pchat_config_set_bind(cfg, "::1"), P2PCHAT_STATUS_OK);
    CHECK_STATUS(p2pchat_config_set_bind(cfg, "[::1]"), P2PCHAT_STATUS_OK);
    CHECK_STATUS(p2pchat_config_set_bind(cfg, "127.0.0.1"), P2PCHAT_STATUS_OK);
    CHECK_STATUS(p2pchat_config_set_bind(cfg, "localhost"), P2PCHAT_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(p2pchat_last_error(), "localhost") != NULL);
    CHECK_STATUS(p2pchat_config_set_bind(cfg, "1.2.3.4.5"), P2PCHAT_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(p2pchat_config_set_bind(cfg, "\xff"), P2PCHAT_STATUS_INVALID_UTF8);

    CHECK_STATUS(p2pchat_config_add_connect(cfg, "example.invalid", 4000), P2PCHAT_STATUS_OK);
    CHECK_STATUS(p2pchat_config_add_connect(cfg, "[::1]", 4000), P2PCHAT_STATUS_OK);
    CHECK_STATUS(p2pchat_config_add_connect(cfg, "127.0.0.1", 0), P2PCHAT_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(p2pchat_config_add_connect(cfg, "bad_host!", 1), P2PCHAT_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(p2pchat_config_add_connect(cfg, "", 1), P2PCHAT_STATUS_INVALID_ARGUMENT);

    CHECK_STATUS(p2pchat_config_set_log(cfg, ""), P2PCHAT_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(p2pchat_config_set_log(cfg, "/tmp/p2pchat-ctest.log"), P2PCHAT_STATUS_OK);

    p2pchat_config_free(cfg);
    return 0;
}

/* Runs p2pchat_config_from_args() with fd `fd` captured into out[size]. */
static p2pchat_status from_args_captured(int fd, int argc, const char *const *argv,
                                         p2pchat_config **cfg, char *out, size_t size)
{
    p2pchat_status st;

    out[0] = '\0';
    if (ctest_capture_begin(fd) != 0)
        return P2PCHAT_STATUS_PANIC;
    st = p2pchat_config_from_args(argc, argv, cfg);
    ctest_capture_end(out, size);
    return st;
}

/* A bad name on the command line is a usage error (exit 2): "p2pchat: MESSAGE"
 * and the hint go to stderr, and nothing is stored. */
int ctest_config_from_args_bad_name_is_usage(void)
{
    p2pchat_config *out = (p2pchat_config *)SENTINEL;
    const char *bad_name[] = {"p2pchat", "two words", NULL};
    const char *no_name[] = {"p2pchat", NULL};
    const char *bad_option[] = {"p2pchat", "alice", "--nope", NULL};
    const char *not_utf8[] = {"p2pchat", "al\xff", NULL};
    char err[4096];

    CHECK_STATUS(from_args_captured(2, 2, bad_name, &out, err, sizeof err), P2PCHAT_STATUS_USAGE);
    CHECK(out == SENTINEL);
    CHECK(strncmp(err, "p2pchat: invalid NAME \"two words\"", 32) == 0);
    CHECK(strstr(err, "\nTry 'p2pchat --help' for more information.\n") != NULL);
    CHECK(strstr(p2pchat_last_error(), "invalid NAME") != NULL);

    CHECK_STATUS(from_args_captured(2, 1, no_name, &out, err, sizeof err), P2PCHAT_STATUS_USAGE);
    CHECK(strncmp(err, "p2pchat: missing NAME\n", 22) == 0);
    CHECK_STATUS(from_args_captured(2, 0, no_name, &out, err, sizeof err), P2PCHAT_STATUS_USAGE);
    CHECK_STATUS(from_args_captured(2, 3, bad_option, &out, err, sizeof err), P2PCHAT_STATUS_USAGE);
    CHECK(strstr(err, "--nope") != NULL);
    CHECK_STATUS(from_args_captured(2, 2, not_utf8, &out, err, sizeof err), P2PCHAT_STATUS_USAGE);
    CHECK(strstr(err, "not valid UTF-8") != NULL);
    CHECK(out == SENTINEL);
    return 0;
}

/* --help and --version print to stdout and say so; nothing is stored. */
int ctest_config_from_args_help_and_version_print(void)
{
    p2pchat_config *out = (p2pchat_config *)SENTINEL;
    const char *help[] = {"p2pchat", "--help", NULL};
    const char *version[] = {"p2pchat", "alice", "-V", NULL};
    char text[16384];

    CHECK_STATUS(from_args_captured(1, 2, help, &out, text, sizeof text), P2PCHAT_STATUS_HELP);
    /* strstr, not a prefix match: while stdout is redirected, the Rust test
     * harness may print another test's result line into it. */
    CHECK(strstr(text, "Usage: p2pchat [OPTIONS] NAME [HOST PORT]\n") != NULL);
    CHECK(strstr(text, "--headless") != NULL);
    CHECK_STATUS(from_args_captured(1, 3, version, &out, text, sizeof text), P2PCHAT_STATUS_VERSION);
    CHECK(strstr(text, "p2pchat ") != NULL);
    CHECK(strstr(text, p2pchat_version()) != NULL);
    CHECK(out == SENTINEL);
    return 0;
}

/* A good command line gives a configuration with the options applied. */
int ctest_config_from_args_parses_options(void)
{
    p2pchat_config *cfg = NULL;
    const char *json[] = {"p2pchat", "--json", "alice", "127.0.0.1", "4000", NULL};
    const char *headless[] = {"p2pchat", "bob", "--headless", "--port=0", NULL};
    const char *plain[] = {"p2pchat", "carol", NULL};

    CHECK_STATUS(p2pchat_config_from_args(5, json, &cfg), P2PCHAT_STATUS_OK);
    CHECK(p2pchat_config_mode(cfg) == P2PCHAT_MODE_JSON);
    p2pchat_config_free(cfg);
    CHECK_STATUS(p2pchat_config_from_args(4, headless, &cfg), P2PCHAT_STATUS_OK);
    CHECK(p2pchat_config_mode(cfg) == P2PCHAT_MODE_HEADLESS);
    p2pchat_config_free(cfg);
    CHECK_STATUS(p2pchat_config_from_args(2, plain, &cfg), P2PCHAT_STATUS_OK);
    CHECK(p2pchat_config_mode(cfg) == P2PCHAT_MODE_UI);
    p2pchat_config_free(cfg);
    return 0;
}

/* Writes `content` to a new file made by mkstemp (mode 0600) from `path_template`,
 * which receives its name; returns 0 on success. */
static int write_temp_file(char *path_template, const char *content)
{
    size_t len = strlen(content);
    int fd = mkstemp(path_template);

    if (fd < 0)
        return -1;
    if (write(fd, content, len) != (ssize_t)len) {
        close(fd);
        unlink(path_template);
        return -1;
    }
    return close(fd);
}

/* The trust setters: identity file, ephemeral, data directory, network, secret
 * file, text clients. Each refuses what it must, and leaves the rest unchanged. */
int ctest_config_trust_setters(void)
{
    p2pchat_config *cfg = NULL;
    char secret[] = "/tmp/p2pchat-ctest-secret-XXXXXX";
    char long_network[80];

    memset(long_network, 'n', 65);
    long_network[65] = '\0';
    CHECK_STATUS(p2pchat_config_new("alice", &cfg), P2PCHAT_STATUS_OK);

    CHECK_STATUS(p2pchat_config_set_identity_file(NULL, "/tmp/k"), P2PCHAT_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(p2pchat_config_set_identity_file(cfg, NULL), P2PCHAT_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(p2pchat_config_set_ephemeral(NULL, true), P2PCHAT_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(p2pchat_config_set_data_dir(NULL, "/tmp"), P2PCHAT_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(p2pchat_config_set_data_dir(cfg, NULL), P2PCHAT_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(p2pchat_config_set_secret_file(NULL, "/tmp/s"), P2PCHAT_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(p2pchat_config_set_secret_file(cfg, NULL), P2PCHAT_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(p2pchat_config_set_network(NULL, "lab"), P2PCHAT_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(p2pchat_config_set_network(cfg, NULL), P2PCHAT_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(p2pchat_config_set_text_clients(NULL, P2PCHAT_TEXT_CLIENTS_ANY), P2PCHAT_STATUS_NULL_ARGUMENT);
    CHECK(p2pchat_config_text_clients(NULL) == -1);

    /* identity and data directory: stored, read when a node starts */
    CHECK_STATUS(p2pchat_config_set_identity_file(cfg, "/tmp/p2pchat-ctest.key"), P2PCHAT_STATUS_OK);
    CHECK_STATUS(p2pchat_config_set_identity_file(cfg, ""), P2PCHAT_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(p2pchat_last_error(), "identity file") != NULL);
    CHECK_STATUS(p2pchat_config_set_ephemeral(cfg, true), P2PCHAT_STATUS_OK);
    CHECK_STATUS(p2pchat_config_set_ephemeral(cfg, false), P2PCHAT_STATUS_OK);
    CHECK_STATUS(p2pchat_config_set_ephemeral(cfg, true), P2PCHAT_STATUS_OK);
    CHECK_STATUS(p2pchat_config_set_data_dir(cfg, "/tmp/p2pchat-ctest-data"), P2PCHAT_STATUS_OK);
    CHECK_STATUS(p2pchat_config_set_data_dir(cfg, ""), P2PCHAT_STATUS_INVALID_ARGUMENT);

    /* network names */
    CHECK_STATUS(p2pchat_config_set_network(cfg, "lab-2.room_b"), P2PCHAT_STATUS_OK);
    CHECK_STATUS(p2pchat_config_set_network(cfg, "two words"), P2PCHAT_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(p2pchat_last_error(), "invalid network name") != NULL);
    CHECK_STATUS(p2pchat_config_set_network(cfg, "a/b"), P2PCHAT_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(p2pchat_config_set_network(cfg, ""), P2PCHAT_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(p2pchat_config_set_network(cfg, long_network), P2PCHAT_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(p2pchat_config_set_network(cfg, "caf\xff"), P2PCHAT_STATUS_INVALID_UTF8);

    /* text clients: any on an open network, unless told */
    CHECK(p2pchat_config_text_clients(cfg) == P2PCHAT_TEXT_CLIENTS_ANY);
    CHECK_STATUS(p2pchat_config_set_text_clients(cfg, P2PCHAT_TEXT_CLIENTS_OFF), P2PCHAT_STATUS_OK);
    CHECK(p2pchat_config_text_clients(cfg) == P2PCHAT_TEXT_CLIENTS_OFF);
    CHECK_STATUS(p2pchat_config_set_text_clients(cfg, 4), P2PCHAT_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(p2pchat_config_set_text_clients(cfg, -1), P2PCHAT_STATUS_INVALID_ARGUMENT);
    CHECK(p2pchat_config_text_clients(cfg) == P2PCHAT_TEXT_CLIENTS_OFF);
    CHECK_STATUS(p2pchat_config_set_text_clients(cfg, P2PCHAT_TEXT_CLIENTS_AUTO), P2PCHAT_STATUS_OK);
    CHECK(p2pchat_config_text_clients(cfg) == P2PCHAT_TEXT_CLIENTS_ANY);

    /* a secret file: derived at once; loopback text clients by default then */
    CHECK(write_temp_file(secret, "hunter2\n") == 0);
    CHECK_STATUS(p2pchat_config_set_secret_file(cfg, secret), P2PCHAT_STATUS_OK);
    CHECK(p2pchat_config_text_clients(cfg) == P2PCHAT_TEXT_CLIENTS_LOOPBACK);
    CHECK_STATUS(p2pchat_config_set_text_clients(cfg, P2PCHAT_TEXT_CLIENTS_ANY), P2PCHAT_STATUS_OK);
    CHECK(p2pchat_config_text_clients(cfg) == P2PCHAT_TEXT_CLIENTS_ANY);
    /* the secret was derived for lab-2.room_b: the name cannot change under it */
    CHECK_STATUS(p2pchat_config_set_network(cfg, "other"), P2PCHAT_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(p2pchat_last_error(), "lab-2.room_b") != NULL);
    CHECK_STATUS(p2pchat_config_set_network(cfg, "lab-2.room_b"), P2PCHAT_STATUS_OK);
    /* refused: readable by others, empty, missing, no name */
    CHECK(chmod(secret, 0644) == 0);
    CHECK_STATUS(p2pchat_config_set_secret_file(cfg, secret), P2PCHAT_STATUS_BAD_FILE);
    CHECK(strstr(p2pchat_last_error(), "is readable by others (mode 0644); run chmod 600 ") != NULL);
    CHECK(chmod(secret, 0600) == 0);
    CHECK(truncate(secret, 0) == 0);
    CHECK_STATUS(p2pchat_config_set_secret_file(cfg, secret), P2PCHAT_STATUS_BAD_FILE);
    CHECK(strstr(p2pchat_last_error(), "is empty") != NULL);
    CHECK(unlink(secret) == 0);
    CHECK_STATUS(p2pchat_config_set_secret_file(cfg, secret), P2PCHAT_STATUS_BAD_FILE);
    CHECK(strstr(p2pchat_last_error(), "cannot read secret file") != NULL);
    CHECK_STATUS(p2pchat_config_set_secret_file(cfg, ""), P2PCHAT_STATUS_INVALID_ARGUMENT);
    /* the secret set before is still there */
    CHECK_STATUS(p2pchat_config_set_text_clients(cfg, P2PCHAT_TEXT_CLIENTS_AUTO), P2PCHAT_STATUS_OK);
    CHECK(p2pchat_config_text_clients(cfg) == P2PCHAT_TEXT_CLIENTS_LOOPBACK);

    p2pchat_config_free(cfg);
    return 0;
}

/* The trust options on the command line, and their conflict. */
int ctest_config_from_args_trust_options(void)
{
    p2pchat_config *cfg = NULL, *out = (p2pchat_config *)SENTINEL;
    char secret[] = "/tmp/p2pchat-ctest-secret-XXXXXX";
    const char *open_net[] = {"p2pchat", "alice", "--ephemeral", "--network", "lab", "--text-clients=off",
                              "--data-dir", "/tmp/p2pchat-ctest-data", NULL};
    const char *closed[] = {"p2pchat", "alice", "--secret-file", secret, "--identity", "/tmp/k", NULL};
    const char *both[] = {"p2pchat", "alice", "--identity", "/tmp/k", "--ephemeral", NULL};
    const char *in_argv[] = {"p2pchat", "alice", "--secret", "hunter2", NULL};
    char err[4096];

    CHECK_STATUS(p2pchat_config_from_args(8, open_net, &cfg), P2PCHAT_STATUS_OK);
    CHECK(p2pchat_config_text_clients(cfg) == P2PCHAT_TEXT_CLIENTS_OFF);
    p2pchat_config_free(cfg);

    CHECK(write_temp_file(secret, "hunter2") == 0);
    CHECK_STATUS(p2pchat_config_from_args(6, closed, &cfg), P2PCHAT_STATUS_OK);
    CHECK(p2pchat_config_text_clients(cfg) == P2PCHAT_TEXT_CLIENTS_LOOPBACK);
    p2pchat_config_free(cfg);
    CHECK(unlink(secret) == 0);

    CHECK_STATUS(from_args_captured(2, 5, both, &out, err, sizeof err), P2PCHAT_STATUS_USAGE);
    CHECK(strstr(err, "p2pchat: --identity cannot be used with --ephemeral\n") != NULL);
    CHECK_STATUS(from_args_captured(2, 4, in_argv, &out, err, sizeof err), P2PCHAT_STATUS_USAGE);
    CHECK(strstr(err, "--secret-file FILE") != NULL && strstr(err, "P2PCHAT_SECRET") != NULL);
    CHECK(out == SENTINEL);
    return 0;
}
