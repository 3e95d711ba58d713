//! `openkvs serve` as a child process: spawned on port 0 with a data directory of the caller's, its
//! listener URLs read back from the startup line, every stderr line kept for assertions, killed
//! when dropped. For tests that need what only the real process shows (its log, its exit status,
//! its sockets as curl and other external clients see them).

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running server process.
pub struct ServeProcess {
    child: Child,
    /// Every listener as `scheme://addr`, in bind order (the `listen` address first).
    pub urls: Vec<String>,
    lines: Arc<Mutex<Vec<String>>>,
}

/// How long a server may take to print its startup line.
const START_BOUND: Duration = Duration::from_secs(30);

impl ServeProcess {
    /// Starts `openkvs serve --data-dir DATA_DIR ARGS…` with the built-in configuration and waits
    /// for its "listening on" line. Panics, with the log, if it exits first.
    pub fn start(data_dir: &Path, args: &[&str]) -> Self {
        match Self::try_start(data_dir, args) {
            Ok(p) => p,
            Err((status, log)) => panic!("openkvs serve exited ({status:?}) before listening:\n{log}"),
        }
    }

    /// As [`ServeProcess::start`], returning the exit status and log when the server exits
    /// instead of listening.
    pub fn try_start(data_dir: &Path, args: &[&str]) -> Result<Self, (Option<ExitStatus>, String)> {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_openkvs"));
        cmd.arg("serve")
            .arg("--data-dir")
            .arg(data_dir)
            .args(args)
            .current_dir(data_dir)
            .env("OPENKVS_LOG", "info")
            .env_remove("RUST_LOG")
            .env_remove("OPENKVS_CONFIG")
            .env_remove("OPENKVS_DATABASE_URL")
            .env_remove("DATABASE_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if !args.contains(&"--listen") {
            cmd.args(["--listen", "127.0.0.1:0"]);
        }
        let mut child = cmd.spawn().expect("spawn openkvs");
        let stderr = child.stderr.take().expect("stderr piped");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel::<Vec<String>>();
        let kept = lines.clone();
        // Drain stderr for the life of the process: a full pipe would block the server.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on ").nth(1)
                    && let Some(t) = tx.take()
                {
                    let list = rest.split(" | ").next().unwrap_or_default();
                    let _ = t.send(list.split(", ").map(str::to_owned).collect());
                }
                kept.lock().unwrap().push(line);
            }
        });
        let deadline = Instant::now() + START_BOUND;
        loop {
            if let Ok(urls) = rx.recv_timeout(Duration::from_millis(20)) {
                return Ok(Self { child, urls, lines });
            }
            if let Ok(Some(status)) = child.try_wait() {
                // The reader thread may still hold the last lines; give it the pipe's end.
                let _ = rx.recv_timeout(Duration::from_millis(200));
                return Err((Some(status), lines.lock().unwrap().join("\n")));
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return Err((None, lines.lock().unwrap().join("\n")));
            }
        }
    }

    /// The first listener with this scheme, as `scheme://addr`.
    pub fn url(&self, scheme: &str) -> String {
        let prefix = format!("{scheme}://");
        self.urls
            .iter()
            .find(|u| u.starts_with(&prefix))
            .cloned()
            .unwrap_or_else(|| panic!("no {scheme} listener"))
    }

    /// The port of the first listener with this scheme.
    pub fn port(&self, scheme: &str) -> u16 {
        self.url(scheme).rsplit(':').next().unwrap().parse().unwrap()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A copy of every stderr line so far.
    pub fn log(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Waits (bounded) until a log line satisfies `pred`, returning it.
    pub fn wait_for_line(&self, within: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(l) = self.lines.lock().unwrap().iter().find(|l| pred(l)) {
                return Some(l.clone());
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
