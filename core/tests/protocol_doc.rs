#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `docs/PROTOCOL.md` describes every `Frame` variant, and only those: each has a
//! heading `### Frame::Name`, and its row in the table of variant indices gives the
//! index the code puts on the wire.
//!
//! The variants come from the code: one sample of each
//! (`p2pchat_core::sim::sample_frames`), named by its `Debug` output. The match in
//! `every_variant!` has no wildcard arm, so a new variant does not compile until it
//! is listed there, and then `sample_frames_cover_every_frame_variant` fails until
//! the samples hold one.

use std::collections::{BTreeMap, BTreeSet};

use p2pchat_core::sim::sample_frames;
use p2pchat_core::wire::{Frame, LEN_PREFIX};

const DOC_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/PROTOCOL.md");
const HEADING: &str = "### Frame::";

/// Defines `VARIANTS` (every variant's name) and `variant_of` (the name of a
/// frame's variant, by an exhaustive match) from one list.
macro_rules! every_variant {
    ($($name:ident),* $(,)?) => {
        const VARIANTS: &[&str] = &[$(stringify!($name)),*];

        fn variant_of(frame: &Frame) -> &'static str {
            match frame {
                $(Frame::$name { .. } => stringify!($name),)*
            }
        }
    };
}

every_variant!(
    Chat,
    Heartbeat,
    Sync,
    SyncDone,
    State,
    Bye,
    Private,
    SnapshotRequest,
    SnapshotReply,
    Endorse,
    Batch,
    CaughtUp,
);

fn doc() -> String {
    std::fs::read_to_string(DOC_PATH).unwrap_or_else(|e| panic!("cannot read {DOC_PATH}: {e}"))
}

/// A frame's variant name as its `Debug` output starts: the text before the first
/// `(`, ` ` or `{`.
fn debug_name(frame: &Frame) -> String {
    let debug = format!("{frame:?}");
    let end = debug.find(['(', ' ', '{']).unwrap_or(debug.len());
    debug[..end].to_owned()
}

/// The variant names of the samples, from their `Debug` output.
fn sampled_variants() -> BTreeSet<String> {
    sample_frames().iter().map(debug_name).collect()
}

/// The names after `### Frame::` in the document's headings, each with how many
/// times it is used.
fn documented_variants(doc: &str) -> BTreeMap<String, usize> {
    let mut found = BTreeMap::new();
    for line in doc.lines() {
        if let Some(name) = line.trim_end().strip_prefix(HEADING) {
            *found.entry(name.to_owned()).or_insert(0) += 1;
        }
    }
    found
}

/// The rows `| N | `Frame::Name` | ...` of the document's table of variant indices.
fn documented_indices(doc: &str) -> BTreeMap<String, u8> {
    let mut rows = BTreeMap::new();
    for line in doc.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let [_, index, variant, ..] = cells.as_slice() else { continue };
        let (Ok(index), Some(name)) = (index.parse::<u8>(), variant.strip_prefix("`Frame::")) else { continue };
        let Some(name) = name.strip_suffix('`') else { continue };
        let before = rows.insert(name.to_owned(), index);
        assert!(before.is_none(), "docs/PROTOCOL.md gives Frame::{name} two rows in the index table");
    }
    rows
}

#[test]
fn sample_frames_cover_every_frame_variant() {
    let samples = sample_frames();
    for frame in &samples {
        assert_eq!(variant_of(frame), debug_name(frame), "the match and Debug disagree on {frame:?}");
    }
    let sampled = sampled_variants();
    let declared: BTreeSet<String> = VARIANTS.iter().map(|v| (*v).to_owned()).collect();
    assert_eq!(declared.len(), VARIANTS.len(), "a variant is listed twice in every_variant!");
    let missing: Vec<&String> = declared.difference(&sampled).collect();
    assert!(missing.is_empty(), "sim::sample_frames() has no sample of {missing:?}");
    assert_eq!(sampled, declared);
}

#[test]
fn every_frame_variant_has_a_heading_in_protocol_md() {
    let documented = documented_variants(&doc());
    let missing: Vec<String> = sampled_variants().into_iter().filter(|v| !documented.contains_key(v)).collect();
    assert!(missing.is_empty(), "docs/PROTOCOL.md has no `{HEADING}Name` heading for {missing:?}");
    let twice: Vec<&String> = documented.iter().filter(|(_, n)| **n > 1).map(|(v, _)| v).collect();
    assert!(twice.is_empty(), "docs/PROTOCOL.md has more than one heading for {twice:?}");
}

#[test]
fn protocol_md_has_no_heading_for_a_frame_variant_that_does_not_exist() {
    let sampled = sampled_variants();
    let unknown: Vec<String> = documented_variants(&doc()).into_keys().filter(|v| !sampled.contains(v)).collect();
    assert!(unknown.is_empty(), "docs/PROTOCOL.md describes variants that Frame does not have: {unknown:?}");
}

#[test]
fn protocol_md_gives_every_frame_variant_the_index_it_has_on_the_wire() {
    let documented = documented_indices(&doc());
    let mut on_wire = BTreeMap::new();
    for frame in sample_frames() {
        let raw = frame.encode().expect("a sample encodes");
        on_wire.insert(debug_name(&frame), raw[LEN_PREFIX]);
    }
    assert_eq!(documented, on_wire, "the table of variant indices in docs/PROTOCOL.md is not what the code encodes");
}
