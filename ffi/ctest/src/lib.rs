//! Links the C tests of `c/` with the library. `build.rs` compiles them into a
//! static archive, and `tests/c.rs` runs each test function as a `#[test]`.

// Pulls the exported `p2pchat_*` symbols into every binary that uses this crate.
extern crate p2pchat;
