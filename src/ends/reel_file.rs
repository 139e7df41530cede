//! A `.reel` log read from a file, or from a directory holding a run's rotated logs.
//!
//! A reader streams: it holds one block at a time whatever the file's size, and never seeks, so
//! the same [`Reader`] reads a file, a pipe or stdin ([`super::stdin`]).

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::{Damage, EndError, Source};
use crate::exchange::Record;
use crate::log::{LogError, Reader};

/// Any byte stream a log can be read from: a file, stdin.
pub type AnyRead = Box<dyn Read + Send>;

/// A log reader over any stream.
pub type LogReader = Reader<AnyRead>;

/// Opens a log file (not a directory: see [`files_of`]) for reading.
pub fn open(path: &Path) -> Result<LogReader, LogError> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|source| LogError::Open {
        path: name.clone(),
        source,
    })?;
    let reader = Reader::new(Box::new(file) as AnyRead, name)?;
    if path.extension().is_some_and(|e| e == "part") {
        say_part_once(reader.name());
    }
    Ok(reader)
}

/// Says once per process per file that a `NAME.part` is read: a run that did not finish left it
/// (or is still writing it). It reads as far as it is intact; its last block may be missing.
fn say_part_once(name: &str) {
    static SAID: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut said = SAID
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !said.iter().any(|n| n == name) {
        said.push(name.to_owned());
        tracing::warn!(
            "{name}: a .part file, left by a run that did not finish (or still being written): \
             read as far as it is intact"
        );
    }
}

/// Opens one log a command line names: stdin for `-`, else the file (not a directory: see
/// [`files_of`]). Stdin is read as a stream, never sought.
pub fn open_input(input: &super::Input) -> Result<LogReader, LogError> {
    match input {
        super::Input::Stdin => super::stdin::open_log(),
        super::Input::Path(p) => open(p),
    }
}

/// The logs a path names: the path itself, or for a directory its finished `.reel` files in
/// name order (a rotated run's files are named by their start time, so that is time order;
/// `NAME.part` files, still being written or left by a crash, are left out).
pub fn files_of(path: &Path) -> Result<Vec<PathBuf>, EndError> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let name = path.display().to_string();
    let entries = std::fs::read_dir(path).map_err(|source| LogError::Open {
        path: name.clone(),
        source,
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| EndError::io(&name, e))?;
        let p = entry.path();
        if p.extension().is_some_and(|e| e == "reel") && p.is_file() {
            files.push(p);
        }
    }
    if files.is_empty() {
        return Err(EndError::EmptyDirectory(name));
    }
    files.sort();
    Ok(files)
}

impl<R: Read> Source for Reader<R> {
    fn name(&self) -> &str {
        Reader::name(self)
    }

    fn next_record(&mut self) -> Result<Option<Record>, EndError> {
        Ok(Reader::next_record(self)?)
    }

    fn damage(&self) -> Damage {
        Damage::of(Reader::name(self), &self.stats())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_names_its_finished_logs_in_order() {
        let dir = std::env::temp_dir().join(format!("reel-ends-dir-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["b.reel", "a.reel", "c.reel.part", "notes.txt"] {
            std::fs::write(dir.join(name), b"").unwrap();
        }
        let files = files_of(&dir).unwrap();
        assert_eq!(files, [dir.join("a.reel"), dir.join("b.reel")]);
        assert_eq!(files_of(&dir.join("a.reel")).unwrap(), [dir.join("a.reel")]);
        std::fs::remove_dir_all(&dir).unwrap();
        let empty = std::env::temp_dir().join(format!("reel-ends-empty-{}", std::process::id()));
        std::fs::create_dir_all(&empty).unwrap();
        assert!(matches!(files_of(&empty), Err(EndError::EmptyDirectory(_))));
        std::fs::remove_dir_all(&empty).unwrap();
    }
}
