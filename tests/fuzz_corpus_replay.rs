//! Runs the replay fuzz targets' entry points (`replay_response`, `rewrite`) over their seed
//! corpora (responses and requests cut from reel's own and public captures, and hand-made edge
//! cases), so CI exercises them without a fuzzing toolchain.

use std::fs;
use std::path::Path;

fn run_corpus(target: &str, entry: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut paths: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    for path in &paths {
        println!("{}", path.display());
        entry(&fs::read(path).expect("seed file"));
    }
    paths.len()
}

#[test]
fn replay_response_seeds() {
    let seeds = run_corpus(
        "replay_response",
        reel::replay::client::fuzz_response_framing,
    );
    assert!(seeds >= 20, "only {seeds} seeds");
}

#[test]
fn rewrite_seeds() {
    let seeds = run_corpus("rewrite", reel::replay::rewrite::fuzz_rewrite);
    assert!(seeds >= 10, "only {seeds} seeds");
}
