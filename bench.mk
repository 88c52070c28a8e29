# `make bench`: the benchmark program (bench/, crate p2pchat-bench).
#
# Include this from the root Makefile (`include bench.mk`). It builds the benchmark
# and the Rust headless node in release mode, then runs the benchmark, which prints
# one table and writes the same figures as JSON (the path is printed; by default
# target/bench/results.json). The whole run takes about a quarter of an hour on a 2-core
# machine and stops by itself.
#
# The node processes it starts (memory and net sections) are $(P2PCHAT_BIN) if set,
# else ./p2pchat if it exists (the C program), else the Rust headless example. To
# measure the C program, build it first (make bench after make), or set P2PCHAT_BIN.
#
#   make bench                                   every section
#   make bench BENCH_ARGS=--quick                a smoke test, under a minute
#   make bench BENCH_ARGS="--only relay,latency" some sections
#   make bench BENCH_ARGS="--out /tmp/r.json"    somewhere else for the JSON

CARGO ?= cargo
BENCH_ARGS ?=

.PHONY: bench
bench: all
	$(CARGO) build --release -p p2pchat-bench
	$(CARGO) build --release -p p2pchat-core --example p2pchat-headless
	$(CARGO) run --release -q -p p2pchat-bench -- $(BENCH_ARGS)
