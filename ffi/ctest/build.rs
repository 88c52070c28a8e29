//! Compiles every `c/*.c` file against `include/p2pchat.h` into one static archive,
//! with warnings as errors.

// A build script reports a broken checkout by failing, loudly.
#![allow(clippy::expect_used)]

use std::path::Path;

fn main() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let include = here.join("../../include");
    let c_dir = here.join("c");
    println!("cargo:rerun-if-changed={}", c_dir.display());
    println!("cargo:rerun-if-changed={}", include.join("p2pchat.h").display());

    let mut sources: Vec<_> = std::fs::read_dir(&c_dir)
        .expect("ffi/ctest/c is readable")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "c"))
        .collect();
    sources.sort();
    for source in &sources {
        println!("cargo:rerun-if-changed={}", source.display());
    }

    let mut build = cc::Build::new();
    build
        .files(&sources)
        .include(&include)
        .include(&c_dir)
        .std("c11")
        .define("_POSIX_C_SOURCE", "200809L")
        .warnings(true)
        .extra_warnings(true)
        .warnings_into_errors(true)
        .flag_if_supported("-Wall")
        .flag_if_supported("-Wextra");
    build.compile("p2pchat_ctests");

    // The tests use POSIX threads (part of libc on current glibc, separate elsewhere).
    if std::env::var("CARGO_CFG_UNIX").is_ok() {
        println!("cargo:rustc-link-lib=pthread");
    }
}
