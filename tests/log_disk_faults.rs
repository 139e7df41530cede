//! Disk faults for the log writer and `reel record` / `reel replay --results` (issue 8), on the
//! real machine as root:
//! - a full disk: `/dev/full` (the writer API and the commands) and a 16 KiB tmpfs filling up
//!   mid-file: one error line naming the file, exit 3, every block written before readable;
//! - a directory made read-only by a read-only bind mount in a private mount namespace (root
//!   ignores permission bits, so a chmod would prove nothing): from the start, and in the middle of
//!   a live rotated capture, where the next file cannot be created: exit 3, every file kept;
//! - a log file deleted while recording: found by its link count, said, and a new file started;
//! - rotation at the smallest size the CLI takes, offline and live: no record lost or doubled.
//!
//! Linux forbids remounting a mount read-only while a file is open for writing on it (EBUSY), so
//! the mid-run test stacks a new read-only bind mount on the directory: the open file goes on,
//! names looked up from then on (the next file, the rename of the finished one) are read-only.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeSet, HashSet};
use std::fs::File;
use std::io::{BufWriter, Read};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{
    LiveReel, METRICS_PORT, NetPair, Nginx, SERVER_IP, can_use_netns, files_ending, netns_command,
    repo, shared_captures, which,
};
use nix::sys::signal::Signal;
use reel::exchange::{Meta, Record};
use reel::exit::{Classify, Status};
use reel::log::{CreateOptions, ReadStats, Reader, Writer, WriterConfig};

const REEL: &str = env!("CARGO_BIN_EXE_reel");

fn sample() -> PathBuf {
    repo().join("captures-sample/shop.pcap")
}

/// True when the test may make a private mount namespace (root, `unshare`, `mount`). Outside CI
/// a run without them skips with a message; under CI a missing one fails the test.
fn can_unshare(test: &str) -> bool {
    let root = nix::unistd::geteuid().is_root();
    let tools = ["unshare", "mount"].iter().all(|t| which(t).is_some());
    if root && tools {
        return true;
    }
    let why = if root {
        "needs unshare and mount (util-linux)"
    } else {
        "needs root for a private mount namespace"
    };
    assert!(
        std::env::var_os("CI").is_none(),
        "{test}: {why}, and CI is set"
    );
    eprintln!("skipped: {test}: {why}");
    false
}

/// Runs `script` with sh in a mount namespace of its own: its mounts vanish with it.
fn in_mount_ns(script: &str) -> Output {
    Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", script])
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every record of a log that may be cut short or torn (torn blocks are skipped and counted).
fn read_all<R: Read>(read: R, name: &str) -> (Vec<Record>, ReadStats) {
    let mut reader = Reader::new(read, name).unwrap();
    let mut records = Vec::new();
    while let Some(r) = reader.next_record().unwrap() {
        records.push(r);
    }
    (records, reader.stats())
}

fn read_path(path: &Path) -> (Vec<Record>, ReadStats) {
    read_all(File::open(path).unwrap(), &path.display().to_string())
}

/// `(kind, conn, index)` of a request or final response.
fn key(r: &Record) -> Option<(char, u64, u32)> {
    match r {
        Record::Request(m) => Some(('q', m.conn, m.index)),
        Record::Response(x) => Some(('s', x.message.conn, x.message.index)),
        _ => None,
    }
}

/// The request target (`/path?query`) of a request record.
fn target(r: &Record) -> Option<String> {
    let Record::Request(m) = r else {
        return None;
    };
    let head = String::from_utf8_lossy(m.head()).into_owned();
    head.split(' ').nth(1).map(str::to_owned)
}

fn count(records: &[Record], kind: char) -> u64 {
    records
        .iter()
        .filter(|r| key(r).is_some_and(|k| k.0 == kind))
        .count() as u64
}

/// The records that carry exchanges (no meta, no closing), in order.
fn exchange_records(records: &[Record]) -> Vec<Record> {
    records
        .iter()
        .filter(|r| !matches!(r, Record::Meta(_) | Record::Closing(_)))
        .cloned()
        .collect()
}

/// Panics if two records of `records` have the same `(kind, conn, index)`.
fn assert_no_duplicates(records: &[Record]) {
    let mut seen = HashSet::new();
    for k in records.iter().filter_map(key) {
        assert!(seen.insert(k), "{k:?} recorded twice");
    }
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

// ---- Full disk ---------------------------------------------------------------------------

const ENOSPC: &str = "No space left on device (os error 28)";
const EROFS: &str = "Read-only file system (os error 30)";

#[test]
fn the_writer_on_a_full_disk_says_no_space_and_is_a_runtime_failure() {
    if !Path::new("/dev/full").exists() {
        eprintln!("skipped: the_writer_on_a_full_disk: no /dev/full");
        return;
    }
    let full = || File::options().write(true).open("/dev/full").unwrap();
    // Unbuffered, the file header is the first write, and fails.
    let e = Writer::new(full(), "/dev/full", WriterConfig::default())
        .err()
        .unwrap();
    assert_eq!(e.to_string(), format!("/dev/full: {ENOSPC}"));
    assert_eq!(e.status(), Status::Runtime);
    // Buffered, records are taken and the block's flush fails.
    let mut w = Writer::new(
        BufWriter::with_capacity(1 << 20, full()),
        "/dev/full",
        WriterConfig::default(),
    )
    .unwrap();
    let meta = Record::Meta(Meta {
        command: "test".into(),
        ..Meta::default()
    });
    w.write(&meta).unwrap();
    let e = w.flush_block().unwrap_err();
    assert_eq!(e.to_string(), format!("/dev/full: {ENOSPC}"));
    assert_eq!(e.status(), Status::Runtime);
    // `create` writes an existing device as a stream (no .part, no rename).
    let e = reel::log::create("/dev/full", CreateOptions::default())
        .err()
        .unwrap();
    assert_eq!(e.to_string(), format!("/dev/full: {ENOSPC}"));
    assert!(!Path::new("/dev/full.part").exists());
}

#[test]
fn record_and_replay_to_a_full_device_print_one_line_and_exit_3() {
    if !Path::new("/dev/full").exists() {
        eprintln!("skipped: record_and_replay_to_a_full_device: no /dev/full");
        return;
    }
    let run = |args: &[&str]| Command::new(REEL).args(args).output().unwrap();
    let sample = sample();
    let sample = sample.to_str().unwrap();
    let out = run(&["record", "--read", sample, "--output", "/dev/full"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), format!("error: /dev/full: {ENOSPC}\n"));

    let dir = tempfile::tempdir().unwrap();
    // --force replaces files, never a device: a private copy of /dev/full (mknod, as root), so
    // that a regression cannot take the machine's.
    let node = dir.path().join("full");
    let usable = nix::unistd::geteuid().is_root()
        && which("mknod").is_some()
        && Command::new("mknod")
            .arg(&node)
            .args(["c", "1", "7"])
            .status()
            .is_ok_and(|s| s.success())
        // A temporary directory mounted nodev refuses to open it.
        && File::options().write(true).open(&node).is_ok();
    if !usable {
        eprintln!(
            "skipped: --force on a device: needs root, mknod and a temporary directory with devices"
        );
    } else {
        let out = run(&[
            "record",
            "--read",
            sample,
            "--output",
            node.to_str().unwrap(),
            "--force",
        ]);
        assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
        assert_eq!(
            text(&out.stderr),
            format!("error: {}: {ENOSPC}\n", node.display())
        );
        let kind = std::fs::metadata(&node).unwrap().file_type();
        assert!(kind.is_char_device(), "--force removed the device");
    }

    let log = dir.path().join("shop.reel");
    let out = run(&[
        "record",
        "--read",
        sample,
        "--output",
        log.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(&[
        "replay",
        log.to_str().unwrap(),
        "--target",
        "http://127.0.0.1:9",
        "--results",
        "/dev/full",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), format!("error: /dev/full: {ENOSPC}\n"));
}

#[test]
fn a_disk_filling_up_mid_file_stops_with_exit_3_and_keeps_every_block_written() {
    if !can_unshare("a_disk_filling_up_mid_file") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let sample = sample().display().to_string();
    std::fs::create_dir(dir.path().join("mnt")).unwrap();
    std::fs::create_dir(dir.path().join("kept")).unwrap();
    // --rotate-size 64k makes 16 KiB blocks (about 2 KiB compressed): the 16 KiB tmpfs takes a few.
    let script = format!(
        "mount -t tmpfs -o size=16k reel-full {d}/mnt || exit 97
         {REEL} record --read {sample} --output {d}/mnt/x.reel --rotate-size 64k
         rc=$?
         cp {d}/mnt/x.reel.part {d}/kept/ || exit 98
         exit $rc"
    );
    let out = in_mount_ns(&script);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        format!("error: {d}/mnt/x.reel.part: {ENOSPC}\n")
    );
    // What reached the disk reads back: every complete block, the torn one skipped.
    let (kept, stats) = read_path(&dir.path().join("kept/x.reel.part"));
    assert!(stats.blocks >= 2, "{stats:?}");
    assert!(stats.skipped_blocks <= 1, "{stats:?}");
    let kept = exchange_records(&kept);
    // The same run on a roomy disk: what was kept is exactly its beginning.
    let full = dir.path().join("full.reel");
    let out = Command::new(REEL)
        .args([
            "record",
            "--read",
            &sample,
            "--rotate-size",
            "64k",
            "--output",
        ])
        .arg(&full)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let all = exchange_records(&read_path(&full).0);
    assert!(
        !kept.is_empty() && kept.len() < all.len(),
        "{} of {}",
        kept.len(),
        all.len()
    );
    assert_eq!(kept[..], all[..kept.len()]);
    eprintln!(
        "full tmpfs: {} blocks kept ({} records of {}), {} torn block skipped",
        stats.blocks,
        kept.len(),
        all.len(),
        stats.skipped_blocks
    );
}

#[test]
fn replay_results_on_a_disk_filling_up_stop_the_replay_with_exit_3() {
    if !can_unshare("replay_results_on_a_disk_filling_up") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let log = dir.path().join("shop.reel");
    let out = Command::new(REEL)
        .args(["record", "--read"])
        .arg(sample())
        .arg("--output")
        .arg(&log)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    std::fs::create_dir(dir.path().join("mnt")).unwrap();
    std::fs::create_dir(dir.path().join("kept")).unwrap();
    // The 640 requests of the log span 8.5 s at recorded speed; a second's block of results
    // takes about 2 KiB, so the 8 KiB tmpfs fills a few seconds in.
    let script = format!(
        "mount -t tmpfs -o size=8k reel-full {d}/mnt || exit 97
         {REEL} replay {d}/shop.reel --target http://127.0.0.1:9 --results {d}/mnt/r.reel >/dev/null
         rc=$?
         cp {d}/mnt/r.reel.part {d}/kept/ || exit 98
         exit $rc"
    );
    let out = in_mount_ns(&script);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let error = format!("{d}/mnt/r.reel.part: {ENOSPC}");
    assert!(
        stderr.contains(&format!("{error}: stopping the replay\n"))
            && stderr.ends_with(&format!("\nerror: {error}\n")),
        "{stderr}"
    );
    let (kept, stats) = read_path(&dir.path().join("kept/r.reel.part"));
    assert!(stats.skipped_blocks <= 1, "{stats:?}");
    let results = kept
        .iter()
        .filter(|r| matches!(r, Record::Result(_)))
        .count();
    assert!(results > 0 && results < 640, "{results} results");
    eprintln!(
        "replay --results on a full tmpfs: {} blocks, {results} results kept, {} torn block skipped",
        stats.blocks, stats.skipped_blocks
    );
}

// ---- Read-only directory -------------------------------------------------------------------

#[test]
fn a_read_only_directory_from_the_start_is_one_line_and_exit_3() {
    if !can_unshare("a_read_only_directory_from_the_start") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    let r = ro.display().to_string();
    let sample = sample().display().to_string();
    let readonly = format!("mount --bind {r} {r} && mount -o remount,bind,ro {r} || exit 97");
    let out = in_mount_ns(&format!(
        "{readonly}\nexec {REEL} record --read {sample} --output {r}/x.reel"
    ));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        format!("error: {r}/x.reel.part: {EROFS}\n")
    );
    // Rotated names fail the same way.
    let out = in_mount_ns(&format!(
        "{readonly}\nexec {REEL} record --read {sample} --output {r}/p-%H.reel --rotate-size 1"
    ));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).ends_with(&format!(".reel.part: {EROFS}\n")),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(text(&out.stderr).lines().count(), 1);

    let log = dir.path().join("shop.reel");
    let out = Command::new(REEL)
        .args(["record", "--read", &sample, "--output"])
        .arg(&log)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = in_mount_ns(&format!(
        "{readonly}\nexec {REEL} replay {} --target http://127.0.0.1:9 --results {r}/res.reel",
        log.display()
    ));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        format!("error: {r}/res.reel.part: {EROFS}\n")
    );
    assert_eq!(std::fs::read_dir(&ro).unwrap().count(), 0);
}

/// A process tree started by a test; on drop, the recorder's PID (from `pid_file`) and the shell
/// are stopped, each by its own PID.
struct Script {
    child: Option<Child>,
    pid_file: PathBuf,
    stderr: Arc<Mutex<String>>,
}

impl Script {
    fn start(mut command: Command, pid_file: PathBuf) -> Script {
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let text = Arc::new(Mutex::new(String::new()));
        let sink = text.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Script {
            child: Some(child),
            pid_file,
            stderr: text,
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.as_mut()?.try_wait().ok().flatten()
    }

    fn wait(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(status) = self.exited() {
                std::thread::sleep(Duration::from_millis(100));
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        if let Some(pid) = std::fs::read_to_string(&self.pid_file)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
        {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Waits until reel's `/ready` answers 200 in `ns`, or panics with `why()`.
fn wait_ready(ns: &str, script: &mut Script) {
    let url = format!("http://127.0.0.1:{METRICS_PORT}/ready");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = netns_command(
            ns,
            &["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", &url],
        )
        .output()
        .unwrap();
        if text(&out.stdout) == "200" {
            return;
        }
        if let Some(status) = script.exited() {
            panic!("reel exited with {status}: {}", script.stderr());
        }
        assert!(Instant::now() < deadline, "not ready: {}", script.stderr());
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn get(net: &NetPair, target: &str) {
    let url = format!("http://{SERVER_IP}:8080{target}");
    let ok = net
        .in_client(&["curl", "-s", "-o", "/dev/null", "-m", "5", &url])
        .status()
        .unwrap()
        .success();
    assert!(ok, "curl {url}");
}

fn wait_for(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_directory_turned_read_only_mid_run_stops_with_exit_3_and_keeps_every_file() {
    let test = "a_directory_turned_read_only_mid_run";
    if !can_use_netns(test) || !can_unshare(test) {
        return;
    }
    let net = NetPair::new();
    let _nginx = Nginx::start(Some(&net.server), SERVER_IP, 8080);
    let dir = tempfile::tempdir().unwrap();
    let ctl = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let trigger = ctl.path().join("trigger");
    let remounted = ctl.path().join("remounted");
    let pid_file = ctl.path().join("pid");
    // reel runs in the background of a shell in its own mount namespace; on the trigger the
    // shell stacks a read-only bind mount on the output directory, then waits for reel.
    let script = format!(
        "{REEL} record -i {iface} --port 8080 -o {d}/cap.reel --rotate-interval 1s \
           --metrics-addr 127.0.0.1:{METRICS_PORT} &
         pid=$!
         echo $pid > {pid}
         while [ ! -e {trigger} ]; do sleep 0.05; done
         if mount --bind {d} {d} && mount -o remount,bind,ro {d}; then touch {remounted}; \
           else kill -INT $pid; fi
         wait $pid",
        iface = net.server_if,
        pid = pid_file.display(),
        trigger = trigger.display(),
        remounted = remounted.display(),
    );
    let mut script = Script::start(
        netns_command(
            &net.server,
            &[
                "unshare",
                "-m",
                "--propagation",
                "private",
                "sh",
                "-c",
                &script,
            ],
        ),
        pid_file,
    );
    wait_ready(&net.server, &mut script);
    for i in 0..20 {
        get(&net, &format!("/api/users/{i}?before"));
    }
    // Two rotations at least, so that finished files exist before the fault.
    std::thread::sleep(Duration::from_millis(2500));
    std::fs::write(&trigger, b"").unwrap();
    wait_for("the read-only remount", Duration::from_secs(5), || {
        remounted.exists() || script.exited().is_some()
    });
    assert!(remounted.exists(), "remount failed: {}", script.stderr());
    let mut after = 0;
    while script.exited().is_none() && after < 100 {
        get(&net, &format!("/api/users/{after}?after"));
        after += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = script
        .wait(Duration::from_secs(15))
        .expect("reel did not stop");
    let stderr = script.stderr();
    assert_eq!(status.code(), Some(3), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    let line = regex::Regex::new(&format!(
        r"^error: {}/cap\.\d+\.reel\.part: Read-only file system \(os error 30\)$",
        regex::escape(&d)
    ))
    .unwrap();
    assert!(errors.len() == 1 && line.is_match(errors[0]), "{stderr}");
    eprintln!("reel said:\n{stderr}");

    // Every file written before the fault reads back whole: the finished ones, and the one open at
    // the fault, finished (closing record, synced) but left as .part (its rename was refused).
    let finished = files_ending(dir.path(), ".reel");
    let parts = files_ending(dir.path(), ".reel.part");
    assert!(finished.len() >= 2, "{finished:?}");
    assert_eq!(parts.len(), 1, "{parts:?}");
    let mut all = Vec::new();
    let mut blocks = 0;
    for f in finished.iter().chain(&parts) {
        let (records, stats) = read_path(f);
        assert_eq!(stats.skipped_blocks, 0, "{}", f.display());
        assert!(matches!(records.first(), Some(Record::Meta(_))));
        assert!(
            matches!(records.last(), Some(Record::Closing(_))),
            "{}",
            f.display()
        );
        blocks += stats.blocks;
        all.extend(exchange_records(&records));
    }
    assert_no_duplicates(&all);
    let before: BTreeSet<String> = all
        .iter()
        .filter_map(target)
        .filter(|t| t.ends_with("?before"))
        .collect();
    assert_eq!(before.len(), 20, "{before:?}");
    assert_eq!(count(&all, 'q'), count(&all, 's'));
    eprintln!(
        "read-only mid-run: {} finished files + 1 .part, {blocks} blocks, {} requests kept \
         ({after} sent after the remount)",
        finished.len(),
        count(&all, 'q')
    );
}

// ---- A file deleted while recording ----------------------------------------------------------

#[test]
fn a_file_deleted_while_recording_is_replaced_and_nothing_after_is_lost() {
    if !can_use_netns("a_file_deleted_while_recording") {
        return;
    }
    let net = NetPair::new();
    let _nginx = Nginx::start(Some(&net.server), SERVER_IP, 8080);
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("del.reel");
    let totals = dir.path().join("totals.json");
    let mut reel = LiveReel::start(
        &net.server,
        &[
            "-i",
            &net.server_if,
            "--port",
            "8080",
            "-o",
            output.to_str().unwrap(),
            &format!("--json={}", totals.display()),
        ],
    );
    for i in 0..20 {
        get(&net, &format!("/api/users/{i}?before"));
    }
    // The block closes after 1 s; then the file goes, held open here to read it afterwards.
    std::thread::sleep(Duration::from_millis(1500));
    let part = dir.path().join("del.reel.part");
    let held = File::open(&part).unwrap();
    std::fs::remove_file(&part).unwrap();
    wait_for("the deletion warning", Duration::from_secs(5), || {
        reel.stderr().contains("deleted while being written")
    });
    for i in 0..20 {
        get(&net, &format!("/api/users/{i}?after"));
    }
    std::thread::sleep(Duration::from_millis(300));
    let status = reel.stop(Signal::SIGINT, Duration::from_secs(15)).unwrap();
    let stderr = reel.stderr();
    assert!(status.success(), "{status}: {stderr}");

    let next = dir.path().join("del.1.reel");
    let warning = regex::Regex::new(&format!(
        r"WARN.* {}: deleted while being written \((\d+) records in it are lost\); recording goes on in {}\n",
        regex::escape(&part.display().to_string()),
        regex::escape(&format!("{}.part", next.display()))
    ))
    .unwrap();
    eprintln!("reel said:\n{stderr}");
    let lost: u64 = warning
        .captures(&stderr)
        .unwrap_or_else(|| panic!("{stderr}"))[1]
        .parse()
        .unwrap();
    assert!(
        stderr.contains(&format!(
            "lost {}: deleted while being written, with its {lost} records\n",
            part.display()
        )),
        "{stderr}"
    );
    // One file left: the new one, finished and renamed.
    assert_eq!(
        std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("del"))
            .collect::<Vec<_>>(),
        ["del.1.reel"]
    );
    // The deleted file holds exactly what was written before the detection (open block included).
    let (gone, stats) = read_all(held, "deleted");
    assert_eq!(stats.skipped_blocks, 0);
    assert_eq!(gone.len() as u64, lost);
    assert!(matches!(gone.first(), Some(Record::Meta(_))));
    assert!(!gone.iter().any(|r| matches!(r, Record::Closing(_))));
    let (kept, _) = read_path(&next);
    match kept.first() {
        Some(Record::Meta(m)) => assert!(
            m.notes.iter().any(|n| n
                == &format!(
                    "replaces {}, deleted while it was being written (its {lost} records are lost)",
                    part.display()
                )),
            "{:?}",
            m.notes
        ),
        other => panic!("first record {other:?}"),
    }
    assert!(matches!(kept.last(), Some(Record::Closing(_))));
    let gone = exchange_records(&gone);
    let kept = exchange_records(&kept);
    // Records after the detection are all in the new file; none is in both.
    let after_in = |records: &[Record]| {
        records
            .iter()
            .filter_map(target)
            .filter(|t| t.ends_with("?after"))
            .count()
    };
    assert_eq!(after_in(&gone), 0);
    assert_eq!(after_in(&kept), 20);
    let mut both = gone.clone();
    both.extend(kept.iter().cloned());
    assert_no_duplicates(&both);
    let before: BTreeSet<String> = both
        .iter()
        .filter_map(target)
        .filter(|t| t.ends_with("?before"))
        .collect();
    assert_eq!(before.len(), 20);
    // The run's counts are the two files' together.
    let totals = json(&totals);
    assert_eq!(
        totals["lost_files"],
        serde_json::json!([{ "file": part.display().to_string(), "records": lost }])
    );
    assert_eq!(totals["requests"], count(&both, 'q'));
    assert_eq!(totals["responses"], count(&both, 's'));
    assert_eq!(count(&both, 'q'), 40);
    eprintln!(
        "deleted mid-run: {} requests in the deleted file, {} in its replacement",
        count(&gone, 'q'),
        count(&kept, 'q')
    );
}

// ---- Rotation never loses records -------------------------------------------------------------

/// Records `input` offline once into one file and once with `--rotate-size 1` (a new file after
/// every write batch); the rotated files together hold exactly the one file's records, in order,
/// and the counts the run reported.
fn rotate_offline(input: &Path) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let record = |output: &Path, extra: &[&str]| {
        let totals = dir.path().join("totals.json");
        let out = Command::new(REEL)
            .arg("record")
            .arg("--read")
            .arg(input)
            .arg("--output")
            .arg(output)
            .arg(format!("--json={}", totals.display()))
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        json(&totals)
    };
    let one = dir.path().join("one.reel");
    let one_totals = record(&one, &[]);
    std::fs::create_dir(dir.path().join("rot")).unwrap();
    let totals = record(&dir.path().join("rot/r.reel"), &["--rotate-size", "1"]);
    let names: Vec<PathBuf> = totals["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| PathBuf::from(f.as_str().unwrap()))
        .collect();
    assert_eq!(
        names.len(),
        files_ending(&dir.path().join("rot"), ".reel").len()
    );
    let mut all = Vec::new();
    let mut in_closing = (0, 0);
    for f in &names {
        let (records, stats) = read_path(f);
        assert_eq!(stats.skipped_blocks, 0);
        match records.last() {
            Some(Record::Closing(c)) => {
                in_closing.0 += c.get("file.requests").unwrap();
                in_closing.1 += c.get("file.responses").unwrap();
            }
            other => panic!("{}: last record {other:?}", f.display()),
        }
        all.extend(exchange_records(&records));
    }
    assert_no_duplicates(&all);
    assert_eq!(totals["requests"], count(&all, 'q'));
    assert_eq!(totals["responses"], count(&all, 's'));
    assert_eq!(in_closing, (count(&all, 'q'), count(&all, 's')));
    assert_eq!(one_totals["requests"], totals["requests"]);
    assert_eq!(exchange_records(&read_path(&one).0), all);
    names.len()
}

#[test]
fn rotating_at_every_write_offline_loses_and_doubles_nothing() {
    let files = rotate_offline(&sample());
    assert!(files >= 3, "{files} files");
    if let Some(shared) = shared_captures() {
        let big = shared.join("public/zeek/http/1000-requests-one-dropped-response.pcap");
        let files = rotate_offline(&big);
        eprintln!("1000 requests: {files} files");
    }
}

#[test]
fn rotating_at_every_write_live_loses_and_doubles_nothing() {
    if !can_use_netns("rotating_at_every_write_live") {
        return;
    }
    let net = NetPair::new();
    let _nginx = Nginx::start(Some(&net.server), SERVER_IP, 8080);
    let dir = tempfile::tempdir().unwrap();
    let totals = dir.path().join("totals.json");
    let mut reel = LiveReel::start(
        &net.server,
        &[
            "-i",
            &net.server_if,
            "--port",
            "8080",
            "-o",
            dir.path().join("r.reel").to_str().unwrap(),
            "--rotate-size",
            "1",
            "--rotate-interval",
            "1s",
            &format!("--json={}", totals.display()),
        ],
    );
    let sent = 150;
    for i in 0..sent {
        get(&net, &format!("/api/users/{i}?n"));
        if i % 10 == 0 {
            std::thread::sleep(Duration::from_millis(120));
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    let status = reel.stop(Signal::SIGINT, Duration::from_secs(15)).unwrap();
    assert!(status.success(), "{status}: {}", reel.stderr());
    assert!(files_ending(dir.path(), ".part").is_empty());
    let totals = json(&totals);
    let names: Vec<PathBuf> = totals["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| PathBuf::from(f.as_str().unwrap()))
        .collect();
    assert_eq!(names.len(), files_ending(dir.path(), ".reel").len());
    let mut all = Vec::new();
    for f in &names {
        let (records, stats) = read_path(f);
        assert_eq!(stats.skipped_blocks, 0);
        assert!(matches!(records.last(), Some(Record::Closing(_))));
        all.extend(exchange_records(&records));
    }
    assert_no_duplicates(&all);
    assert_eq!(totals["requests"], count(&all, 'q'));
    assert_eq!(totals["responses"], count(&all, 's'));
    assert_eq!(count(&all, 'q'), sent);
    assert_eq!(count(&all, 's'), sent);
    let targets: BTreeSet<String> = all.iter().filter_map(target).collect();
    assert_eq!(targets.len() as u64, sent);
    assert!(names.len() >= 5, "{} files", names.len());
    eprintln!(
        "live rotation at every write: {sent} exchanges in {} files",
        names.len()
    );
}
