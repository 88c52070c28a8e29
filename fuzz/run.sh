#!/usr/bin/env bash
# run.sh - builds the seed corpus, then runs each fuzz target in turn.
#
#   fuzz/run.sh [SECONDS] [TARGET...]      (default: 300 s each, every target)
#
# One process per target, one target at a time (one core). Findings go to
# fuzz/artifacts/TARGET/; the corpus grows in fuzz/corpus/TARGET/ (neither is
# committed). Set FUZZ_SANITIZER=address to use ASan, which needs nightly
# features: see README.md.
set -eu
cd "$(dirname "$0")"
secs=${1:-300}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(frame_decoder handshake text_line_reader)
sanitizer=${FUZZ_SANITIZER:-none}

cargo run -q --example seeds
for t in "${targets[@]}"; do
    extra=()
    case $t in
    text_line_reader) extra=(-dict=dict/text.dict -max_len=16384) ;;
    *) extra=(-max_len=8192) ;;
    esac
    echo "== $t: ${secs}s"
    cargo fuzz run "$t" -s "$sanitizer" -- -max_total_time="$secs" -print_final_stats=1 \
        "${extra[@]}"
done
