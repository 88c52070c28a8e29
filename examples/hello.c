/* hello.c - the smallest program using libp2pchat: start a node, print its port. */
#include <p2pchat.h>
#include <stdio.h>

int main(void) {
    p2pchat_config *cfg = NULL;
    p2pchat_node *node = NULL;
    uint16_t port = 0;
    if (p2pchat_config_new("hello", &cfg) != P2PCHAT_STATUS_OK) return 1;
    p2pchat_config_set_bind(cfg, "127.0.0.1");
    if (p2pchat_node_new(cfg, NULL, NULL, &node) != P2PCHAT_STATUS_OK) {
        fprintf(stderr, "hello: %s\n", p2pchat_last_error());
        return 1;
    }
    p2pchat_node_port(node, &port);
    printf("listening on port %u\n", (unsigned)port);
    p2pchat_node_free(node);
    p2pchat_config_free(cfg);
    return 0;
}
