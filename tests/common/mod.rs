//! Real parts for integration tests: network namespaces joined by veth pairs, nginx from Debian with
//! a ground-truth access log, tcpdump, and the paths of the shared public captures. Every resource is
//! uniquely named and removed by a drop guard; every process is stopped by its own PID.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod exchanges;
pub mod pcapfile;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared/captures`, or `None` after printing why the test is skipped (a user's clone).
pub fn shared_captures() -> Option<PathBuf> {
    let dir = repo().join("../shared/captures");
    if dir.join("public/INDEX.tsv").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "skipped: ../shared/captures not found (it exists only on the project's machines)"
        );
        None
    }
}

/// True when the test may create namespaces and capture (root). Outside CI a non-root run skips
/// with a message; under CI=true a missing capability fails the test.
pub fn can_use_netns(test: &str) -> bool {
    let root = nix::unistd::geteuid().is_root();
    let tools = ["ip", "nginx", "tcpdump", "curl"]
        .iter()
        .all(|t| which(t).is_some());
    if root && tools {
        return true;
    }
    let why = if root {
        "needs ip, nginx, tcpdump and curl (run scripts/setup)"
    } else {
        "needs root for network namespaces and capture"
    };
    assert!(
        std::env::var_os("CI").is_none(),
        "{test}: {why}, and CI is set"
    );
    eprintln!("skipped: {test}: {why}");
    false
}

/// The path of an executable on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A name unique to this process and call, at most `max` bytes (interface names: 15).
pub fn unique(prefix: &str, max: usize) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut s = format!("{prefix}{}x{n}", std::process::id() % 100_000);
    s.truncate(max);
    s
}

/// Runs a command to completion, panicking with its stderr if it fails.
pub fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", args[0]));
    assert!(
        out.status.success(),
        "{:?} failed: {}",
        args,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Two network namespaces, `server` (10.77.0.1) and `client` (10.77.0.2), joined by a veth pair.
/// Addresses are fixed: each pair is its own network, so parallel tests never collide.
pub struct NetPair {
    /// Server namespace name.
    pub server: String,
    /// Client namespace name.
    pub client: String,
    /// The server side's veth interface (inside `server`).
    pub server_if: String,
}

/// Server address inside a [`NetPair`].
pub const SERVER_IP: &str = "10.77.0.1";
/// Client address inside a [`NetPair`].
pub const CLIENT_IP: &str = "10.77.0.2";

impl NetPair {
    /// Creates the namespaces and the link; removed on drop.
    pub fn new() -> NetPair {
        let server = unique("reels", 15);
        let client = unique("reelc", 15);
        let server_if = unique("rvs", 15);
        let client_if = unique("rvc", 15);
        sh(&["ip", "netns", "add", &server]);
        let pair = NetPair {
            server,
            client,
            server_if,
        };
        sh(&["ip", "netns", "add", &pair.client]);
        sh(&[
            "ip",
            "link",
            "add",
            &pair.server_if,
            "netns",
            &pair.server,
            "type",
            "veth",
            "peer",
            "name",
            &client_if,
            "netns",
            &pair.client,
        ]);
        for (ns, dev, ip) in [
            (&pair.server, &pair.server_if, SERVER_IP),
            (&pair.client, &client_if, CLIENT_IP),
        ] {
            sh(&[
                "ip",
                "-n",
                ns,
                "addr",
                "add",
                &format!("{ip}/24"),
                "dev",
                dev,
            ]);
            sh(&["ip", "-n", ns, "link", "set", dev, "up"]);
            sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
            // MTU-sized frames, as a real NIC without offloads delivers them to the capture.
            let _ = Command::new("ip")
                .args([
                    "netns", "exec", ns, "ethtool", "-K", dev, "tso", "off", "gso", "off",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        pair
    }

    /// A command that runs `args` inside the client namespace.
    pub fn in_client(&self, args: &[&str]) -> Command {
        netns_command(&self.client, args)
    }

    /// A command that runs `args` inside the server namespace.
    pub fn in_server(&self, args: &[&str]) -> Command {
        netns_command(&self.server, args)
    }
}

impl Drop for NetPair {
    fn drop(&mut self) {
        for ns in [&self.server, &self.client] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// `ip netns exec NS args…`.
pub fn netns_command(ns: &str, args: &[&str]) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns]).args(args);
    c
}

/// A child process stopped by its PID on drop (SIGTERM, then SIGKILL).
pub struct Guard {
    /// The child.
    pub child: Option<Child>,
}

impl Guard {
    /// Takes ownership of a spawned child.
    pub fn new(child: Child) -> Guard {
        Guard { child: Some(child) }
    }

    /// Sends `signal` to the child and waits up to `within` for it to exit; true when it did.
    pub fn stop(&mut self, signal: nix::sys::signal::Signal, within: Duration) -> bool {
        let Some(mut child) = self.child.take() else {
            return true;
        };
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, signal);
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.stop(nix::sys::signal::Signal::SIGTERM, Duration::from_secs(3));
    }
}

/// One line of the ground-truth access log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessEntry {
    /// nginx's connection serial number.
    pub conn: u64,
    /// Request number within the connection, from 1.
    pub number: u64,
    /// Client port: with the client address, identifies the TCP connection.
    pub port: u16,
    /// Request method.
    pub method: String,
    /// Request target as received.
    pub target: String,
    /// Status sent.
    pub status: u16,
}

/// Reads an access log written with the `truth` format of `tests/data/make/nginx.conf`.
pub fn read_access_log(path: &Path) -> Vec<AccessEntry> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            assert_eq!(f.len(), 6, "bad access log line {l:?}");
            AccessEntry {
                conn: f[0].parse().unwrap(),
                number: f[1].parse().unwrap(),
                port: f[2].parse().unwrap(),
                method: f[3].to_string(),
                target: f[4].to_string(),
                status: f[5].parse().unwrap(),
            }
        })
        .collect()
}

/// nginx from Debian, started with `tests/data/make/nginx.conf` in a temp dir, optionally inside a
/// namespace; its access log is the ground truth. Stopped by PID on drop.
pub struct Nginx {
    /// The temp dir holding config, logs and the static files.
    pub dir: tempfile::TempDir,
    /// The running server.
    pub process: Guard,
    /// Address and port it listens on.
    pub addr: String,
}

impl Nginx {
    /// Starts nginx on `ip:port` inside namespace `ns` (or the current one) and waits until it answers.
    pub fn start(ns: Option<&str>, ip: &str, port: u16) -> Nginx {
        let dir = tempfile::Builder::new()
            .prefix("reel-nginx")
            .tempdir()
            .unwrap();
        // nginx workers run as www-data: the tree must be readable by them.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("www/static")).unwrap();
        let js: String = (0..900)
            .map(|i| format!("function f{i}(a,b){{return a*{i}+b;}}\n"))
            .collect();
        std::fs::write(root.join("www/static/app.js"), js).unwrap();
        std::fs::write(root.join("www/static/1k.bin"), vec![b'x'; 1024]).unwrap();
        let conf = std::fs::read_to_string(repo().join("tests/data/make/nginx.conf"))
            .unwrap()
            .replace("@ROOT@", root.to_str().unwrap())
            .replace("@ADDR@:8080", &format!("{ip}:{port}"));
        std::fs::write(root.join("nginx.conf"), conf).unwrap();
        let conf_path = root.join("nginx.conf");
        let args = ["nginx", "-c", conf_path.to_str().unwrap()];
        let mut cmd = match ns {
            Some(ns) => netns_command(ns, &args),
            None => {
                let mut c = Command::new("nginx");
                c.args(&args[1..]);
                c
            }
        };
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("nginx");
        let nginx = Nginx {
            dir,
            process: Guard::new(child),
            addr: format!("{ip}:{port}"),
        };
        let url = format!("http://{}/health", nginx.addr);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut probe = match ns {
                Some(ns) => netns_command(ns, &["curl", "-sf", "-o", "/dev/null", &url]),
                None => {
                    let mut c = Command::new("curl");
                    c.args(["-sf", "-o", "/dev/null", &url]);
                    c
                }
            };
            if probe.status().is_ok_and(|s| s.success()) {
                break;
            }
            assert!(Instant::now() < deadline, "nginx did not start on {url}");
            std::thread::sleep(Duration::from_millis(50));
        }
        // The readiness probe is not part of any test's traffic.
        std::fs::write(nginx.access_log(), "").unwrap();
        nginx
    }

    /// The ground-truth access log.
    pub fn access_log(&self) -> PathBuf {
        self.dir.path().join("access.log")
    }
}

/// tcpdump writing a pcap of `filter` on `iface` inside `ns`; stop it with [`Tcpdump::finish`].
pub struct Tcpdump {
    process: Guard,
    /// The capture file.
    pub path: PathBuf,
    dropped: std::sync::Arc<std::sync::Mutex<Option<u64>>>,
}

impl Tcpdump {
    /// Starts tcpdump and waits until it is listening.
    pub fn start(ns: &str, iface: &str, filter: &str, path: &Path) -> Tcpdump {
        let child = netns_command(
            ns,
            &[
                "tcpdump",
                "-i",
                iface,
                "-s",
                "0",
                "-B",
                "131072",
                "--immediate-mode",
                "-U",
                "-w",
                path.to_str().unwrap(),
                filter,
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tcpdump");
        let mut process = Guard::new(child);
        // tcpdump prints "listening on …" once the handle is open.
        let stderr = process.child.as_mut().unwrap().stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let dropped = std::sync::Arc::new(std::sync::Mutex::new(None));
        let seen = dropped.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if line.contains("listening on") {
                    let _ = tx.send(());
                }
                // "N packets dropped by kernel", printed when tcpdump exits.
                if let Some(n) = line.strip_suffix(" packets dropped by kernel") {
                    *seen.lock().unwrap() = n.trim().parse::<u64>().ok();
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(10))
            .expect("tcpdump did not start");
        Tcpdump {
            process,
            path: path.to_path_buf(),
            dropped,
        }
    }

    /// Stops the capture (SIGINT flushes the file) and returns its path.
    pub fn finish(mut self) -> PathBuf {
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            self.process
                .stop(nix::sys::signal::Signal::SIGINT, Duration::from_secs(5)),
            "tcpdump did not stop"
        );
        // The ground truth is only whole if tcpdump itself lost nothing.
        let deadline = Instant::now() + Duration::from_secs(2);
        while self.dropped.lock().unwrap().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let dropped = *self.dropped.lock().unwrap();
        assert_eq!(
            dropped,
            Some(0),
            "tcpdump's kernel drops: the capture itself is incomplete"
        );
        self.path.clone()
    }
}

/// The port `reel record` serves /metrics and /ready on inside a test's namespace (each namespace
/// has its own loopback, so tests never share it).
pub const METRICS_PORT: u16 = 9187;

/// `reel record --interface …` running inside a namespace, stopped by its PID on drop. Its
/// stderr is collected as it comes.
pub struct LiveReel {
    /// The running recorder (`ip netns exec` execs into it: same PID).
    pub process: Guard,
    /// The namespace it runs in.
    pub ns: String,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl LiveReel {
    /// Starts `reel record ARGS --metrics-addr 127.0.0.1:9187` in `ns` and waits until `/ready`
    /// answers 200 (the capture handles are open). Panics with reel's stderr if it exits first.
    pub fn start(ns: &str, args: &[&str]) -> LiveReel {
        LiveReel::start_command(ns, "record", args)
    }

    /// Starts `reel COMMAND ARGS --metrics-addr 127.0.0.1:9187` in `ns` (`record` or `shadow`)
    /// and waits until `/ready` answers 200.
    pub fn start_command(ns: &str, command: &str, args: &[&str]) -> LiveReel {
        let metrics = format!("127.0.0.1:{METRICS_PORT}");
        let mut full = vec![env!("CARGO_BIN_EXE_reel"), command];
        full.extend_from_slice(args);
        full.extend_from_slice(&["--metrics-addr", &metrics]);
        let child = netns_command(ns, &full)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("reel");
        let mut process = Guard::new(child);
        let stderr = process.child.as_mut().unwrap().stderr.take().unwrap();
        let text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
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
        let mut reel = LiveReel {
            process,
            ns: ns.to_string(),
            stderr: text,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if reel.get("/ready").is_some_and(|(status, _)| status == 200) {
                break;
            }
            let exited = reel
                .process
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                std::thread::sleep(Duration::from_millis(100));
                panic!("reel exited with {status}: {}", reel.stderr());
            }
            assert!(
                Instant::now() < deadline,
                "reel {command} did not become ready: {}",
                reel.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        reel
    }

    /// The process id.
    pub fn pid(&self) -> i32 {
        self.process.child.as_ref().map(|c| c.id() as i32).unwrap()
    }

    /// `GET path` on the metrics endpoint, from inside the namespace: status and body.
    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        let url = format!("http://127.0.0.1:{METRICS_PORT}{path}");
        let out = netns_command(
            &self.ns,
            &["curl", "-s", "-m", "5", "-w", "\n%{http_code}", &url],
        )
        .output()
        .ok()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n')?;
        Some((code.trim().parse().ok()?, body.to_string()))
    }

    /// The value of a series on /metrics (summed over labels), if present.
    pub fn metric(&self, name: &str) -> Option<u64> {
        let (_, text) = self.get("/metrics")?;
        let mut found = None;
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (series, value) = line.rsplit_once(' ')?;
            let family = series.split('{').next()?;
            if family == name {
                *found.get_or_insert(0) += value.parse::<f64>().ok()? as u64;
            }
        }
        found
    }

    /// What reel printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Sends `signal` and waits up to `within` for the exit status (`None`: still running, then
    /// killed).
    pub fn stop(
        &mut self,
        signal: nix::sys::signal::Signal,
        within: Duration,
    ) -> Option<std::process::ExitStatus> {
        let mut child = self.process.child.take()?;
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, signal);
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                // Let the stderr reader catch the last lines.
                std::thread::sleep(Duration::from_millis(100));
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }
}

/// Every record of several logs, read in the order given (the files of one rotated run).
pub fn read_logs(paths: &[PathBuf]) -> Vec<reel::exchange::Record> {
    paths.iter().flat_map(|p| exchanges::read_log(p)).collect()
}

/// The files in `dir` whose names end with `suffix`, sorted by name.
pub fn files_ending(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    v.sort();
    v
}

/// Runs wrk in the client namespace for `secs` seconds with `conns` connections and the API mix;
/// panics if it fails.
pub fn wrk_api_mix(net: &NetPair, url: &str, conns: u32, secs: u32) {
    let script = repo().join("benches/scripts/api-mix.lua");
    let out = net
        .in_client(&[
            "wrk",
            "-t",
            "1",
            "-c",
            &conns.to_string(),
            "-d",
            &format!("{secs}s"),
            "-s",
            script.to_str().unwrap(),
            url,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The access log's requests that got an answer, and the exchanges of clients whose connection
/// was not cut by wrk's stop (a request wrk's close cut short is logged 499 by nginx).
pub fn answered(
    truth: &[AccessEntry],
    xs: Vec<exchanges::Exchange>,
) -> (Vec<AccessEntry>, Vec<exchanges::Exchange>) {
    let answered: Vec<_> = truth.iter().filter(|e| e.status != 499).cloned().collect();
    let cut: Vec<u16> = truth
        .iter()
        .filter(|e| e.status == 499)
        .map(|e| e.port)
        .collect();
    let xs = xs
        .into_iter()
        .filter(|x| x.status().is_some() || !cut.contains(&x.request.client.port()))
        .collect();
    (answered, xs)
}

/// Held by tests that drive a server at full speed, so that two of them in one test binary do not
/// share the CPUs (a starved capture would drop frames and the comparison would say so).
pub fn full_speed_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The staging side's address in a [`StagingNet`].
pub const STAGING_IP: &str = "10.78.0.2";
/// The server namespace's address on the link to a [`StagingNet`].
pub const STAGING_LINK_IP: &str = "10.78.0.1";

/// A third namespace for staging, joined to a [`NetPair`]'s server namespace by a veth pair
/// (10.78.0.1 on the server side, [`STAGING_IP`] on staging's): staging is reachable from
/// production's host only, as a staging network usually is. Removed on drop (with the link).
pub struct StagingNet {
    /// The staging namespace.
    pub ns: String,
}

impl StagingNet {
    /// Creates the namespace and links it to `net`'s server namespace.
    pub fn new(net: &NetPair) -> StagingNet {
        let staging = StagingNet {
            ns: unique("reelg", 15),
        };
        sh(&["ip", "netns", "add", &staging.ns]);
        let near = unique("rvg", 15);
        let far = unique("rvh", 15);
        sh(&[
            "ip",
            "link",
            "add",
            &near,
            "netns",
            &net.server,
            "type",
            "veth",
            "peer",
            "name",
            &far,
            "netns",
            &staging.ns,
        ]);
        for (ns, dev, ip) in [
            (&net.server, &near, STAGING_LINK_IP),
            (&staging.ns, &far, STAGING_IP),
        ] {
            sh(&[
                "ip",
                "-n",
                ns,
                "addr",
                "add",
                &format!("{ip}/24"),
                "dev",
                dev,
            ]);
            sh(&["ip", "-n", ns, "link", "set", dev, "up"]);
        }
        sh(&["ip", "-n", &staging.ns, "link", "set", "lo", "up"]);
        staging
    }
}

impl Drop for StagingNet {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
    }
}

/// An HTTP/1.1 server of the test's own (hyper), listening on `addr` inside a network namespace:
/// it counts every request it gets and answers `200 ok` after `delay` — a slow staging.
/// Stopped on drop.
pub struct SlowServer {
    /// Requests received so far.
    pub requests: std::sync::Arc<std::sync::atomic::AtomicU64>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SlowServer {
    /// Starts the server on `addr` in namespace `ns` (its thread joins the namespace with
    /// setns, binds, and serves on a one-thread tokio runtime); returns once it listens.
    pub fn start(ns: &str, addr: &str, delay: Duration) -> SlowServer {
        use std::sync::atomic::AtomicU64;
        let requests = std::sync::Arc::new(AtomicU64::new(0));
        let counter = requests.clone();
        let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let netns = PathBuf::from("/var/run/netns").join(ns);
        let addr = addr.to_string();
        let thread = std::thread::spawn(move || {
            let fd = std::fs::File::open(&netns).unwrap();
            nix::sched::setns(&fd, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            let listener = std::net::TcpListener::bind(&addr).unwrap();
            listener.set_nonblocking(true).unwrap();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                ready_tx.send(()).unwrap();
                loop {
                    let (stream, _) = tokio::select! {
                        _ = &mut stop_rx => return,
                        accepted = listener.accept() => match accepted {
                            Ok(a) => a,
                            Err(_) => continue,
                        },
                    };
                    let counter = counter.clone();
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |_req| {
                            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            async move {
                                tokio::time::sleep(delay).await;
                                Ok::<_, std::convert::Infallible>(hyper::Response::new(
                                    http_body_util::Full::new(bytes::Bytes::from_static(b"ok\n")),
                                ))
                            }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        });
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the slow server did not start");
        SlowServer {
            requests,
            shutdown: Some(stop_tx),
            thread: Some(thread),
        }
    }
}

impl Drop for SlowServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
