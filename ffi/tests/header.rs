//! `include/p2pchat.h` must be what cbindgen generates from the code now.
//!
//! `UPDATE_HEADER=1 cargo test -p p2pchat-ffi --test header` (or `make header`)
//! rewrites it.

use std::path::Path;

#[test]
fn committed_header_matches_the_code() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let header = crate_dir.join("../include/p2pchat.h");
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("ffi/cbindgen.toml is valid");
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(crate_dir.join("src/lib.rs"))
        .generate()
        .expect("cbindgen generates the header");
    let mut generated = Vec::new();
    bindings.write(&mut generated);

    if std::env::var_os("UPDATE_HEADER").is_some_and(|v| !v.is_empty() && v != "0") {
        std::fs::write(&header, &generated).expect("include/p2pchat.h is writable");
        eprintln!("rewrote {}", header.display());
        return;
    }
    let committed = std::fs::read(&header).unwrap_or_default();
    if committed != generated {
        let committed = String::from_utf8_lossy(&committed);
        let generated = String::from_utf8_lossy(&generated);
        let first = committed.lines().zip(generated.lines()).position(|(a, b)| a != b);
        panic!(
            "include/p2pchat.h is out of date (first difference at line {}); run `make header` \
             (UPDATE_HEADER=1 cargo test -p p2pchat-ffi --test header) and commit it",
            first.map_or_else(|| "end".to_owned(), |i| (i + 1).to_string())
        );
    }
}
