//! Runs the packets fuzz target's entry point over its seed corpus (frames of reel's own captures
//! and structured segment sequences), so CI exercises it without a fuzzing toolchain.

use std::fs;
use std::path::Path;

#[test]
fn packets_seeds() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/packets");
    let mut seeds = 0;
    for entry in fs::read_dir(&dir).expect("seed corpus directory").flatten() {
        let path = entry.path();
        if path.is_file() {
            println!("{}", path.display());
            reel::record::extraction::fuzz_packets(&fs::read(&path).expect("seed file"));
            seeds += 1;
        }
    }
    assert!(seeds >= 6, "only {seeds} seeds");
}

/// Found by fuzzing: a message whose last bytes arrived out of order (captured before its first
/// bytes) was stored with a last-byte time before its first-byte time. The last-byte time is now
/// the latest capture time of any of its bytes.
#[test]
fn regression_reordered_message_last_byte_time() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus/packets/regression-reordered-message-last-byte-time");
    reel::record::extraction::fuzz_packets(&fs::read(path).expect("seed file"));
}
