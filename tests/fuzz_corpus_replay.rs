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

fn seed(target: &str, name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
        .join(name);
    fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Found by fuzzing: `--rewrite-host` (or `--set-header`) on an HTTP/0.9 request line added a
/// field after it, which staging received as bytes after the request. A request without a head
/// end now keeps everything but its target.
#[test]
fn regression_http09_request_gets_fields() {
    reel::replay::rewrite::fuzz_rewrite(&seed("rewrite", "regression-http09-request-gets-fields"));
}

/// Found by the rewrite target's invariant on a hand-made input: a `--rewrite-url` rule that
/// removed the whole request-target turned `GET /old HTTP/1.1` into `GET  HTTP/1.1`, an HTTP/0.9
/// request. An empty target is now sent as `/`.
#[test]
fn regression_empty_target() {
    reel::replay::rewrite::fuzz_rewrite(&seed("rewrite", "regression-empty-target"));
}

/// Found by fuzzing: a `--rewrite-url` replacement holding a control character (`\x08`) was
/// accepted and made a request line no server parses. Replacements (and `--set-header` values,
/// tab aside) may no longer hold control characters.
#[test]
fn regression_url_replacement_control_char() {
    reel::replay::rewrite::fuzz_rewrite(&seed(
        "rewrite",
        "regression-url-replacement-control-char",
    ));
}

/// Found by fuzzing: the space ending an HTTP/0.9 request line (`GET / `) was rewritten as part
/// of the target, and an empty `--rewrite-url` regex made it `GET h/h h`, which no server parses.
/// Spaces after the target are no longer part of it.
#[test]
fn regression_target_trailing_space() {
    reel::replay::rewrite::fuzz_rewrite(&seed("rewrite", "regression-target-trailing-space"));
}

/// Found by fuzzing right after the previous fix: `GET  HTTP/1.1` (no target before the
/// version; it reads as HTTP/0.9) had its empty target replaced by `/`, which made it another
/// request. A line without a target is left alone.
#[test]
fn regression_line_without_target() {
    reel::replay::rewrite::fuzz_rewrite(&seed("rewrite", "regression-line-without-target"));
}

/// Found by fuzzing: after a field line with an invalid name, an indented `  t: …` line was a
/// continuation for the rewriter but a field `t` of its own for the head parser, so
/// `--set-header 't: other'` left two `t` fields. The parser now skips a folded line whose field
/// it skipped, as RFC 9112 §2.2 allows.
#[test]
fn regression_folded_line_after_an_invalid_one() {
    reel::replay::rewrite::fuzz_rewrite(&seed(
        "rewrite",
        "regression-folded-line-after-an-invalid-one",
    ));
}

/// Found by fuzzing: with two spaces after the method (`GET  HTT1.1`, tolerated by the parser),
/// the second space was taken as the start of the target, and an empty `--rewrite-url` regex
/// put a replacement before it: `GET h hHhT…`, two words. The target now starts after the spaces.
#[test]
fn regression_spaces_before_the_target() {
    reel::replay::rewrite::fuzz_rewrite(&seed("rewrite", "regression-spaces-before-the-target"));
}

/// Found by fuzzing: a head whose first line after the request line is indented (no field, which
/// parsers skip) got `--rewrite-host`'s Host inserted before it, so the indented line became the
/// Host value's continuation. The Host now goes after such lines.
#[test]
fn regression_host_before_an_indented_first_line() {
    reel::replay::rewrite::fuzz_rewrite(&seed(
        "rewrite",
        "regression-host-before-an-indented-first-line",
    ));
}
