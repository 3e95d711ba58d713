//! The server process a bench measures from the outside: either `openkvs serve` started by the
//! bench as a child (this same executable, `--listen 127.0.0.1:0`, a new data directory under the
//! system temp dir, the built-in configuration: `OPENKVS_*`, `DATABASE_URL` and `RUST_LOG` are
//! not passed on), or an existing process named by its pid. Its CPU
//! time and resident memory are read from `/proc/<pid>/stat` (Linux procfs; elsewhere the readings
//! are `None`).
//!
//! The child's listener URL is read from its startup line ("openkvs listening on URL, … | …", the
//! line the integration tests read too) on stderr, which a thread drains for the child's life (a
//! full pipe would block the server; the last lines are kept for error messages). Dropping a
//! [`ChildServer`] kills the child (SIGKILL: nothing in its temp data dir is kept) and removes the
//! data directory. [`ChildServer::start_with`] starts one with given arguments (a cluster node's
//! configuration file and fixed port) and keeps its data directory, so it can be started again.

use std::collections::VecDeque;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a child server may take to print its startup line.
const START_BOUND: Duration = Duration::from_secs(60);

/// Stderr lines of the child kept for error messages.
const KEPT_LINES: usize = 20;

/// `openkvs serve` started by a bench; killed (and its data dir removed, when the bench made it)
/// on drop.
#[derive(Debug)]
pub struct ChildServer {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    data_dir: PathBuf,
    remove_dir: bool,
}

impl ChildServer {
    /// Starts `openkvs serve` (this executable) on 127.0.0.1 port 0 with a new data directory and
    /// waits for its startup line. Blocking. The child is killed when the calling thread ends
    /// (`PR_SET_PDEATHSIG`), so call it from a thread that lives as long as the bench (its main
    /// thread), not from a pooled blocking thread.
    pub fn start() -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?;
        let data_dir = std::env::temp_dir().join(format!(
            "openkvs-bench-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&data_dir)
            .map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
        let args = ["--listen", "127.0.0.1:0"].map(std::ffi::OsString::from);
        Self::spawn(exe, &args, data_dir, true)
    }

    /// Starts `openkvs serve ARGS --data-dir DATA_DIR` (this executable; ARGS name the listen
    /// address, a configuration file, …) and waits for its startup line, as [`ChildServer::start`];
    /// the data directory is kept on drop, so a node killed and started again finds it.
    pub fn start_with(args: &[std::ffi::OsString], data_dir: PathBuf) -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?;
        std::fs::create_dir_all(&data_dir)
            .map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
        Self::spawn(exe, args, data_dir, false)
    }

    fn spawn(
        exe: PathBuf,
        args: &[std::ffi::OsString],
        data_dir: PathBuf,
        remove_dir: bool,
    ) -> Result<Self, String> {
        let mut command = Command::new(exe);
        // The built-in configuration: no configuration file, database or store from the
        // environment of the bench.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("OPENKVS_") || name == "DATABASE_URL" || name == "RUST_LOG"
            {
                command.env_remove(name);
            }
        }
        // The child dies with the thread that started it (the bench's main thread: a bench killed
        // by a timeout leaves no server behind).
        // SAFETY: prctl is async-signal-safe and touches only the new process.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut command, || {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let spawned = command
            .arg("serve")
            .args(args)
            .arg("--data-dir")
            .arg(&data_dir)
            .env("OPENKVS_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                if remove_dir {
                    let _ = std::fs::remove_dir_all(&data_dir);
                }
                return Err(format!("cannot start openkvs serve: {e}"));
            }
        };
        let stderr = child.stderr.take();
        // From here on, dropping `server` kills the child and removes the directory.
        let mut server = ChildServer { child, endpoint: String::new(), data_dir, remove_dir };
        let stderr = stderr.ok_or("the child's stderr is not piped")?;
        let kept = Arc::new(Mutex::new(VecDeque::new()));
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let lines = kept.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on ").nth(1)
                    && let Some(t) = tx.take()
                {
                    let first = rest.split(" | ").next().unwrap_or_default().split(", ").next();
                    let _ = t.send(first.unwrap_or_default().to_owned());
                }
                let mut kept = lines.lock().unwrap_or_else(|p| p.into_inner());
                if kept.len() == KEPT_LINES {
                    kept.pop_front();
                }
                kept.push_back(line);
            }
        });
        let deadline = Instant::now() + START_BOUND;
        let log =
            || kept.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect::<Vec<_>>().join("\n");
        loop {
            if let Ok(url) = rx.recv_timeout(Duration::from_millis(20)) {
                server.endpoint = url;
                return Ok(server);
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!("openkvs serve exited ({status}) before listening:\n{}", log()));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "openkvs serve did not listen within {} s:\n{}",
                    START_BOUND.as_secs(),
                    log()
                ));
            }
        }
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if self.remove_dir {
            let _ = std::fs::remove_dir_all(&self.data_dir);
        }
    }
}

/// One reading of a process's counters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessReading {
    /// User + system CPU time so far, seconds.
    pub cpu_seconds: f64,
    /// Resident set size, bytes.
    pub rss_bytes: u64,
}

impl ProcessReading {
    /// Reads `/proc/<pid>/stat`, or `/proc/self/stat` for `None`.
    pub fn of(pid: Option<u32>) -> Option<Self> {
        let path = pid.map_or_else(|| "/proc/self/stat".to_owned(), |p| format!("/proc/{p}/stat"));
        let stat = std::fs::read_to_string(path).ok()?;
        // SAFETY: sysconf only reads a system constant.
        let (ticks, page) = unsafe { (libc::sysconf(libc::_SC_CLK_TCK), libc::sysconf(libc::_SC_PAGESIZE)) };
        if ticks <= 0 || page <= 0 {
            return None;
        }
        let (utime, stime, rss) = cpu_and_rss_fields(&stat)?;
        Some(Self { cpu_seconds: (utime + stime) as f64 / ticks as f64, rss_bytes: rss * page as u64 })
    }
}

/// utime (14), stime (15) and rss (24) of a `stat` line (proc(5), fields counted from 1; the
/// command name in parentheses may hold spaces, so fields are counted after its last `)`).
fn cpu_and_rss_fields(stat: &str) -> Option<(u64, u64, u64)> {
    let mut after_name = stat.get(stat.rfind(')')? + 1..)?.split_whitespace();
    // After the name comes field 3; utime is the 12th from there.
    let utime = after_name.nth(11)?.parse().ok()?;
    let stime = after_name.next()?.parse().ok()?;
    let rss = after_name.nth(8)?.parse().ok()?;
    Some((utime, stime, rss))
}

/// The 1, 5 and 15 minute load averages (`/proc/loadavg`).
pub fn load_average() -> Option<[f64; 3]> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let mut it = text.split_whitespace().map(|v| v.parse::<f64>().ok());
    Some([it.next()??, it.next()??, it.next()??])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_after_a_name_with_spaces() {
        let stat = "77 (a) b) R 1 77 77 0 -1 0 5 0 0 0 1234 321 0 0 20 0 3 0 900 5000 4096 1 1 1";
        assert_eq!(cpu_and_rss_fields(stat), Some((1234, 321, 4096)));
        assert_eq!(cpu_and_rss_fields("77 (a) R 1 2 3"), None);
    }

    #[test]
    fn this_process_reads_back() {
        if std::path::Path::new("/proc/self/stat").exists() {
            let r = ProcessReading::of(None).unwrap();
            assert!(r.rss_bytes > 0);
            assert_eq!(ProcessReading::of(Some(std::process::id())).map(|r| r.rss_bytes > 0), Some(true));
            assert!(load_average().is_some());
        }
    }
}
