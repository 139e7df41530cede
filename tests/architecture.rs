//! The shape of the crate, checked from its sources: every error type says its exit class, the
//! modules import each other one way only (`docs/ARCHITECTURE.md`, "Modules and imports"), and
//! `src/cmd/` only wires: no threads, tasks or channels, no pipeline pieces.
//!
//! Both checks read `src/` as text. Each is also run on a small made-up crate that breaks the
//! rule, so that a check which finds nothing cannot pass by accident.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, with its text.
fn sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("src is readable") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("a source file");
                out.push((path, text));
            }
        }
    }
    out.sort();
    out
}

fn src() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    sources(&root)
        .into_iter()
        .map(|(p, t)| {
            let rel = p
                .strip_prefix(&root)
                .expect("under src")
                .to_string_lossy()
                .into_owned();
            (rel, t)
        })
        .collect()
}

/// The text without `//` comments (doc comments included) and string literals' contents, so
/// that examples in docs and messages are not read as code.
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let mut in_str = false;
        let mut prev = ' ';
        let mut kept = String::new();
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if !in_str && c == '/' && chars.get(i + 1) == Some(&'/') {
                break;
            }
            if c == '"' && prev != '\\' && prev != '\'' {
                in_str = !in_str;
                kept.push('"');
            } else if !in_str {
                kept.push(c);
            }
            prev = if prev == '\\' && c == '\\' { ' ' } else { c };
            i += 1;
        }
        out.push_str(&kept);
        out.push('\n');
    }
    out
}

/// The error types of a crate's sources: the types deriving `thiserror::Error`.
fn error_types(files: &[(String, String)]) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for (path, text) in files {
        let code = code_only(text);
        let bare_error = code.contains("use thiserror::Error;");
        let lines: Vec<&str> = code.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let t = line.trim();
            let Some(derives) = t.strip_prefix("#[derive(") else {
                continue;
            };
            let derives = derives.trim_end_matches(")]");
            let is_error = derives
                .split(',')
                .map(str::trim)
                .any(|d| d == "thiserror::Error" || (bare_error && d == "Error"));
            if !is_error {
                continue;
            }
            let name = lines[i + 1..]
                .iter()
                .map(|l| l.trim())
                .find(|l| !l.starts_with("#["))
                .and_then(|l| {
                    let words: Vec<&str> = l.split_whitespace().collect();
                    let at = words.iter().position(|w| *w == "enum" || *w == "struct")?;
                    words.get(at + 1).map(|w| {
                        w.trim_end_matches(['{', ';', '('])
                            .split(['<', '('])
                            .next()
                            .unwrap_or_default()
                            .to_owned()
                    })
                });
            if let Some(name) = name {
                found.push((path.clone(), name));
            }
        }
    }
    found
}

/// The error types with no `impl Classify for` them anywhere in the sources.
fn unclassified(files: &[(String, String)]) -> Vec<(String, String)> {
    let all: String = files.iter().map(|(_, t)| code_only(t)).collect();
    error_types(files)
        .into_iter()
        .filter(|(_, name)| {
            !all.lines().any(|l| {
                let l = l.trim();
                l.starts_with("impl") && l.contains("Classify for ") && {
                    let after = l.split("Classify for ").nth(1).unwrap_or_default();
                    after
                        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                        .next()
                        == Some(name.as_str())
                }
            })
        })
        .collect()
}

#[test]
fn every_error_type_says_its_exit_class() {
    let files = src();
    let types = error_types(&files);
    assert!(
        types.len() >= 12,
        "the scan found only {} error types: it is broken",
        types.len()
    );
    let missing = unclassified(&files);
    assert!(
        missing.is_empty(),
        "error types without `impl Classify` (exit::Classify, next to the type): {missing:?}"
    );
}

#[test]
fn the_class_check_finds_an_error_type_without_a_class() {
    let files = vec![(
        "made_up.rs".to_owned(),
        "#[derive(Debug, thiserror::Error)]\n#[error(\"x\")]\npub struct Classed;\n\
         impl Classify for Classed { fn status(&self) -> Status { Status::Runtime } }\n\
         #[derive(Debug, Clone, thiserror::Error)]\npub enum Forgotten { #[error(\"y\")] Y }\n"
            .to_owned(),
    )];
    assert_eq!(
        unclassified(&files),
        [("made_up.rs".to_owned(), "Forgotten".to_owned())]
    );
}

/// The top-level module a source file belongs to (`cmd/record.rs` → `cmd`).
fn module_of(path: &str) -> String {
    let first = path.split('/').next().unwrap_or(path);
    first.trim_end_matches(".rs").to_owned()
}

/// The top-level modules a file names with `crate::` paths (`use crate::{a, b::c}` included).
fn imports(text: &str) -> BTreeSet<String> {
    let code = code_only(text);
    let mut out = BTreeSet::new();
    let bytes = code.as_bytes();
    let mut at = 0;
    while let Some(p) = code[at..].find("crate::") {
        let start = at + p + "crate::".len();
        at = start;
        if start >= bytes.len() {
            break;
        }
        // Part of a longer name (`reel_crate::`)? Not ours.
        let before = at - "crate::".len();
        if before > 0 && (bytes[before - 1].is_ascii_alphanumeric() || bytes[before - 1] == b'_') {
            continue;
        }
        if bytes[start] == b'{' {
            // A group: every name at depth 1.
            let mut depth = 0;
            let mut word = String::new();
            let mut first_of_item = true;
            for &b in &bytes[start..] {
                match b {
                    b'{' => {
                        depth += 1;
                        first_of_item = true;
                        word.clear();
                    }
                    b'}' => {
                        if depth == 1 && first_of_item && !word.is_empty() {
                            out.insert(word.clone());
                        }
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    b',' if depth == 1 => {
                        if first_of_item && !word.is_empty() {
                            out.insert(word.clone());
                        }
                        word.clear();
                        first_of_item = true;
                    }
                    b':' if depth == 1 => {
                        if first_of_item && !word.is_empty() {
                            out.insert(word.clone());
                        }
                        first_of_item = false;
                    }
                    c if depth == 1
                        && first_of_item
                        && (c.is_ascii_alphanumeric() || c == b'_') =>
                    {
                        word.push(c as char);
                    }
                    _ => {}
                }
            }
        } else {
            let name: String = code[start..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

/// The graph of top-level modules: who names whom.
fn graph(files: &[(String, String)]) -> BTreeMap<String, BTreeSet<String>> {
    let modules: BTreeSet<String> = files
        .iter()
        .map(|(p, _)| module_of(p))
        .filter(|m| m != "lib" && m != "main")
        .collect();
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, text) in files {
        let from = module_of(path);
        if from == "lib" || from == "main" {
            continue;
        }
        let entry = g.entry(from.clone()).or_default();
        for to in imports(text) {
            if to != from && modules.contains(&to) {
                entry.insert(to);
            }
        }
    }
    g
}

/// Every rule the graph breaks, as sentences.
fn violations(g: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let edge = ["cli", "cmd"];
    let mut out = Vec::new();
    for (from, tos) in g {
        for to in tos {
            if from == "exit" {
                out.push(format!(
                    "exit imports {to}: exit depends on nothing in the crate"
                ));
            }
            if edge.contains(&to.as_str()) && !edge.contains(&from.as_str()) {
                out.push(format!(
                    "{from} imports {to}: stages never import the command line"
                ));
            }
            if from == "cli" && to == "cmd" {
                out.push("cli imports cmd: cmd runs what cli defines, not the other way".into());
            }
        }
    }
    // A cycle: depth-first search with colours.
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
        out: &mut Vec<String>,
    ) {
        state.insert(n.to_owned(), 1);
        path.push(n.to_owned());
        for m in g.get(n).into_iter().flatten() {
            match state.get(m.as_str()).copied().unwrap_or(0) {
                0 => visit(m, g, state, path, out),
                1 => {
                    let at = path.iter().position(|p| p == m).unwrap_or(0);
                    let mut cycle = path[at..].to_vec();
                    cycle.push(m.clone());
                    out.push(format!("import cycle: {}", cycle.join(" -> ")));
                }
                _ => {}
            }
        }
        path.pop();
        state.insert(n.to_owned(), 2);
    }
    let mut state = BTreeMap::new();
    for n in g.keys() {
        if state.get(n.as_str()).copied().unwrap_or(0) == 0 {
            visit(n, g, &mut state, &mut Vec::new(), &mut out);
        }
    }
    out
}

#[test]
fn modules_import_one_way_and_without_cycles() {
    let files = src();
    let g = graph(&files);
    assert!(
        g.len() >= 10 && g.get("cmd").is_some_and(|t| t.contains("cli")),
        "the scan did not see the crate's modules: {g:?}"
    );
    let bad = violations(&g);
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn the_import_check_finds_upward_imports_and_cycles() {
    let files: Vec<(String, String)> = [
        (
            "cli/mod.rs",
            "use crate::cmd;\nuse crate::{log::Writer, exit};",
        ),
        ("cmd/mod.rs", "use crate::cli::Cli;"),
        (
            "log/mod.rs",
            "use crate::exit::Classify; fn f() { crate::replay::run(); }",
        ),
        ("replay/mod.rs", "use crate::{cli::TargetFlags, log};"),
        (
            "exit.rs",
            "// crate::cmd in a comment is fine\nconst X: &str = \"crate::cmd\";",
        ),
    ]
    .iter()
    .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()))
    .collect();
    let g = graph(&files);
    assert_eq!(
        g["cli"],
        BTreeSet::from(["cmd".to_owned(), "exit".to_owned(), "log".to_owned()])
    );
    assert!(g["exit"].is_empty(), "{g:?}");
    let bad = violations(&g);
    assert!(
        bad.iter().any(|v| v.starts_with("cli imports cmd")),
        "{bad:?}"
    );
    assert!(
        bad.iter().any(|v| v.starts_with("replay imports cli")),
        "{bad:?}"
    );
    assert!(bad.iter().any(|v| v.starts_with("import cycle")), "{bad:?}");
}

/// What starts threads, tasks or channels — pipeline machinery, which lives in the stages.
const CONCURRENCY: [&str; 10] = [
    "thread::spawn",
    "thread::Builder",
    "thread::scope",
    "tokio::spawn",
    "tokio::runtime",
    "spawn_blocking",
    "crossbeam",
    "mpsc",
    "sync_channel",
    "rayon",
];

/// The traits a pipeline piece implements: an end, or a stage's handler.
const PIPELINE_TRAITS: [&str; 4] = ["Source", "Sink", "StreamHandler", "Stage"];

/// True when `line` (an `impl` line) implements `name`, named alone or by a path.
fn implements(line: &str, name: &str) -> bool {
    let pattern = format!("{name} for ");
    line.match_indices(&pattern)
        .any(|(i, _)| line[..i].ends_with([' ', ':']))
}

/// Where a file under `cmd/` does more than wiring and printing: `file:line: what`.
fn cmd_beyond_wiring(files: &[(String, String)]) -> Vec<String> {
    let mut bad = Vec::new();
    for (path, text) in files.iter().filter(|(p, _)| p.starts_with("cmd/")) {
        for (n, line) in code_only(text).lines().enumerate() {
            for what in CONCURRENCY {
                if line.contains(what) {
                    bad.push(format!(
                        "{path}:{}: {what} (threads and channels belong in a stage)",
                        n + 1
                    ));
                }
            }
            let t = line.trim_start();
            if t.starts_with("impl") {
                for what in PIPELINE_TRAITS {
                    if implements(t, what) {
                        bad.push(format!(
                            "{path}:{}: impl {what} for … (a pipeline piece belongs in a stage or in ends)",
                            n + 1
                        ));
                    }
                }
            }
        }
    }
    bad
}

#[test]
fn cmd_only_wires_and_prints() {
    let files = src();
    let cmd: Vec<&String> = files
        .iter()
        .map(|(p, _)| p)
        .filter(|p| p.starts_with("cmd/"))
        .collect();
    assert!(
        cmd.iter().any(|p| *p == "cmd/record.rs") && cmd.iter().any(|p| *p == "cmd/shadow.rs"),
        "the scan did not see cmd/: {cmd:?}"
    );
    let bad = cmd_beyond_wiring(&files);
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn the_wiring_check_finds_threads_and_pipeline_pieces_in_cmd() {
    let files: Vec<(String, String)> = [
        ("cmd/a.rs", "fn run() { std::thread::spawn(|| ()); }"),
        ("cmd/b.rs", "use std::sync::mpsc::sync_channel;"),
        (
            "cmd/c.rs",
            "impl<S: Write> Sink for Mine<S> {}\nimpl crate::ends::Source for Theirs {}",
        ),
        (
            "cmd/d.rs",
            "// tokio::spawn in a comment\nconst X: &str = \"std::thread::spawn\";",
        ),
        (
            "record/live.rs",
            "fn run() { std::thread::Builder::new(); }\nimpl Sink for Writer {}",
        ),
    ]
    .iter()
    .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()))
    .collect();
    let bad = cmd_beyond_wiring(&files);
    for expected in [
        "cmd/a.rs:1: thread::spawn",
        "cmd/b.rs:1: mpsc",
        "cmd/b.rs:1: sync_channel",
        "cmd/c.rs:1: impl Sink for",
        "cmd/c.rs:2: impl Source for",
    ] {
        assert!(
            bad.iter().any(|b| b.starts_with(expected)),
            "{expected} not found in {bad:?}"
        );
    }
    assert!(
        !bad.iter()
            .any(|b| b.starts_with("cmd/d.rs") || b.starts_with("record/")),
        "comments, strings and the stages are not cmd's code: {bad:?}"
    );
}
