/* hello.c - start a p2pchat node on 127.0.0.1, print its port, stop. */
#include <p2pchat.h>
#include <stdio.h>

int main(void)
{
    p2pchat_config *cfg;
    p2pchat_node *node;
    uint16_t port;
    int status = 1;

    if (p2pchat_config_new("hello", &cfg) != P2PCHAT_STATUS_OK)
        return 1;
    p2pchat_config_set_bind(cfg, "127.0.0.1");
    if (p2pchat_node_new(cfg, NULL, NULL, &node) == P2PCHAT_STATUS_OK) {
        if (p2pchat_node_port(node, &port) == P2PCHAT_STATUS_OK)
            printf("listening on port %u\n", (unsigned)port);
        p2pchat_node_free(node);
        status = 0;
    } else {
        fprintf(stderr, "hello: %s\n", p2pchat_last_error());
    }
    p2pchat_config_free(cfg);
    return status;
}
