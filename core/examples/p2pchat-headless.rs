//! A minimal p2pchat frontend with no terminal UI: `--headless` and `--json` only
//! (without either, it behaves as `--headless`). It takes the same command line as
//! every other frontend and exists so that the process tests in `systest/` can run
//! without the C program:
//!
//! ```text
//! cargo build --example p2pchat-headless
//! P2PCHAT_BIN=$PWD/target/debug/examples/p2pchat-headless cargo test -p p2pchat-systest
//! ```

use p2pchat_core::cli::{self, CliError};
use p2pchat_core::{Mode, headless};

fn main() {
    let mut config = match cli::parse_args(std::env::args().skip(1)) {
        Ok(config) => config,
        Err(CliError::Usage(msg)) => {
            eprintln!("p2pchat: {msg}\n{}", cli::hint("p2pchat"));
            std::process::exit(2);
        }
        Err(other) => {
            println!("{other}");
            std::process::exit(other.exit_code());
        }
    };
    if config.mode == Mode::Ui {
        config.mode = Mode::Headless;
    }
    std::process::exit(headless::run(&config));
}
