//! Runs the log fuzz targets' entry points over their seed corpora, so CI exercises them without
//! a fuzzing toolchain.

use std::fs;
use std::path::Path;

fn run_corpus(target: &str, entry: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut seeds = 0;
    for entry_path in fs::read_dir(&dir).expect("seed corpus directory").flatten() {
        let path = entry_path.path();
        if path.is_file() {
            let data = fs::read(&path).expect("seed file");
            println!("{}", path.display());
            entry(&data);
            seeds += 1;
        }
    }
    seeds
}

#[test]
fn log_reader_seeds() {
    assert!(run_corpus("log_reader", reel::log::fuzz_reader) >= 10);
}

#[test]
fn gor_import_seeds() {
    assert!(run_corpus("gor_import", reel::log::fuzz_gor) >= 6);
}
