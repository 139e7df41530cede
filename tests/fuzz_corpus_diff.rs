//! Runs the `diff_normalize` fuzz target's entry point over its seed corpus (JSON, chunked and
//! gzip, deflate, zstd, text, redirect, invalid and deeply nested bodies, hand-made), so CI
//! exercises the response-diff normalizer and its invariants without a fuzzing toolchain.

use std::fs;
use std::path::Path;

#[test]
fn diff_normalize_seeds() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/diff_normalize");
    let mut paths: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    for path in &paths {
        println!("{}", path.display());
        let data = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        reel::diff::normalize::fuzz_normalize(&data);
    }
    assert!(paths.len() >= 10, "only {} seeds", paths.len());
}
