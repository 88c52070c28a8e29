//! A minimal p2pchat frontend with no terminal UI: `--headless` and `--json` only
//! (without either, it behaves as `--headless`). It takes the same command line as
//! every other frontend and exists so that the process tests in `systest/` can run
//! without the C program:
//!
//! ```text
//! cargo build --example p2pchat-headless
//! P2PCHAT_BIN=$PWD/target/debug/examples/p2pchat-headless cargo test -p p2pchat-systest
//! ```

use p2pchat_core::{Mode, cli, headless};

fn main() {
    let mut config = cli::parse_or_exit("p2pchat-headless");
    if config.mode == Mode::Ui {
        config.mode = Mode::Headless;
    }
    std::process::exit(headless::run(&config));
}
