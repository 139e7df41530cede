//! Runs the `http_framing` fuzz entry point over every seed in `fuzz/corpus/http_framing/`, so
//! the seeds (real messages) are checked on every test run without a sanitizer build.

use std::path::Path;

#[test]
fn every_http_framing_seed_passes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/http_framing");
    let mut seeds: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    seeds.sort();
    assert!(
        seeds.len() >= 10,
        "only {} seeds in {}",
        seeds.len(),
        dir.display()
    );
    for seed in seeds {
        let data = std::fs::read(&seed).unwrap_or_else(|e| panic!("{}: {e}", seed.display()));
        reel::http::fuzz_framing(&data);
    }
}
