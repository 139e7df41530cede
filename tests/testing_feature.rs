//! Fuzz entry points and test drivers are built only with the `testing` feature, so the default
//! build (and its `cargo doc`) does not offer them as API; every test, bench and fuzz build turns
//! the feature on. Checked from the sources, and on made-up text so the check cannot pass by
//! finding nothing.

use std::path::Path;

/// Every `.rs` file under `dir`, relative path and text.
fn sources(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            sources(&path, root, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path
                .strip_prefix(root)
                .expect("under src")
                .to_string_lossy()
                .into_owned();
            out.push((rel, std::fs::read_to_string(&path).expect("a source file")));
        }
    }
}

const GATE: &str = "#[cfg(feature = \"testing\")]";

/// The testing-only items of one file (`pub fn fuzz_*`, `pub mod drive`, `pub mod call_log`)
/// that are not gated:
/// the attribute lines right above the item (doc comments and other attributes skipped over)
/// must hold the gate, unless the whole file is a module gated where it is declared.
fn ungated(text: &str, file_gated: bool) -> (usize, Vec<String>) {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = 0;
    let mut bad = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let item = line.trim_start();
        if !(item.starts_with("pub fn fuzz_")
            || item.starts_with("pub mod drive")
            || item.starts_with("pub mod call_log"))
        {
            continue;
        }
        found += 1;
        let gated = file_gated
            || lines[..i]
                .iter()
                .rev()
                .map(|l| l.trim())
                .take_while(|l| l.starts_with("#[") || l.starts_with("///"))
                .any(|l| l == GATE);
        if !gated {
            bad.push(item.to_owned());
        }
    }
    (found, bad)
}

#[test]
fn fuzz_entry_points_and_drivers_are_behind_the_testing_feature() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    sources(&root.join("src"), &root.join("src"), &mut files);
    let mut found = 0;
    let mut bad = Vec::new();
    for (path, text) in &files {
        // http/fuzz.rs is declared `#[cfg(feature = "testing")] mod fuzz;` in http/mod.rs.
        let file_gated = path == "http/fuzz.rs";
        let (n, b) = ungated(text, file_gated);
        found += n;
        bad.extend(b.into_iter().map(|item| format!("{path}: {item}")));
    }
    assert!(bad.is_empty(), "not behind the testing feature: {bad:#?}");
    // fuzz_framing, fuzz_reader, fuzz_gor, fuzz_packets, fuzz_gate, fuzz_response_framing,
    // fuzz_rewrite, and http::drive.
    assert!(
        found >= 8,
        "only {found} testing-only items found: is the scan blind?"
    );
    let http = std::fs::read_to_string(root.join("src/http/mod.rs")).unwrap();
    assert!(
        http.contains(&format!("{GATE}\nmod fuzz;")),
        "http/fuzz.rs must be declared behind the feature"
    );
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains("\ntesting = []"),
        "Cargo.toml defines the feature"
    );
    assert!(
        manifest.contains("reel = { path = \".\", features = [\"testing\"] }"),
        "tests and benches turn the feature on"
    );
    let fuzz = std::fs::read_to_string(root.join("fuzz/Cargo.toml")).unwrap();
    assert!(
        fuzz.contains("reel = { path = \"..\", features = [\"testing\"] }"),
        "fuzz targets turn the feature on"
    );
}

#[test]
fn the_scan_finds_an_ungated_entry_point() {
    let text = "/// Fuzz.\n#[doc(hidden)]\npub fn fuzz_x(d: &[u8]) {}\n\n\
                /// Gated.\n#[cfg(feature = \"testing\")]\n#[inline]\npub fn fuzz_y(d: &[u8]) {}\n\
                #[cfg(test)]\npub fn fuzz_z(d: &[u8]) {}\n";
    let (found, bad) = ungated(text, false);
    assert_eq!(found, 3);
    // fuzz_z is gated by `cfg(test)`, not by the feature.
    assert_eq!(
        bad,
        ["pub fn fuzz_x(d: &[u8]) {}", "pub fn fuzz_z(d: &[u8]) {}"]
    );
    assert_eq!(ungated(text, true).1.len(), 0);
}
