//! Runs the `fail_if` fuzz target's entry point over its seed corpus (the documented gate
//! examples, every unit and scope form, and expressions that must fail), so CI exercises it
//! without a fuzzing toolchain.

use std::fs;
use std::path::Path;

#[test]
fn fail_if_seeds() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/fail_if");
    let mut paths: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    for path in &paths {
        println!("{}", path.display());
        reel::compare::gate::fuzz_gate(&fs::read(path).expect("seed file"));
    }
    assert!(paths.len() >= 20, "only {} seeds", paths.len());
}
