//! A test camera: `tests/rtsp/server.py` (GStreamer's RTSP server through PyGObject, run with the
//! system Python where python3-gi lives) as a child process serving a test pattern, its port read
//! from the `PORT n` line it prints. Killed when dropped; [`RtspCamera::restart`] brings it back on
//! the same port (a camera rebooting), [`RtspCamera::restart_with`] with other settings.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The interpreter with python3-gi.
pub const SYSTEM_PYTHON: &str = "/usr/bin/python3";

/// A running test camera.
pub struct RtspCamera {
    child: Option<Child>,
    args: Vec<String>,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
}

/// Why the camera could not start (the prerequisite is missing).
pub fn missing_prerequisite() -> Option<String> {
    let ok = Command::new(SYSTEM_PYTHON)
        .args([
            "-c",
            "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer",
        ])
        .output()
        .is_ok_and(|o| o.status.success());
    (!ok).then(|| {
        "the RTSP test camera needs gir1.2-gst-rtsp-server-1.0, python3-gi and gstreamer1.0-plugins-{base,good,bad,ugly} (.ci/run installs them)".to_owned()
    })
}

impl RtspCamera {
    /// Starts `server.py ARGS` on a free port. Panics if it does not come up within 20 s.
    pub fn start(args: &[&str]) -> Self {
        if let Some(why) = missing_prerequisite() {
            panic!("{why}");
        }
        let mut cam = RtspCamera { child: None, args: args.iter().map(|s| s.to_string()).collect(), port: 0 };
        cam.spawn();
        cam
    }

    fn spawn(&mut self) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/rtsp/server.py");
        let mut child = Command::new(SYSTEM_PYTHON)
            .arg(script)
            .args(&self.args)
            .args(["--port", &self.port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn tests/rtsp/server.py");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(p) = line.strip_prefix("PORT ") {
                    let _ = tx.send(p.trim().parse::<u16>().ok());
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        let port = loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(Some(p)) => break p,
                Ok(None) => panic!("server.py printed a bad port"),
                Err(_) if Instant::now() > deadline => panic!("server.py did not start within 20 s"),
                Err(_) => {
                    if let Ok(Some(status)) = child.try_wait() {
                        panic!("server.py exited: {status}");
                    }
                }
            }
        };
        self.port = port;
        self.child = Some(child);
    }

    /// `rtsp://[user:password@]127.0.0.1:PORT/cam`.
    pub fn url(&self, credentials: Option<(&str, &str)>) -> String {
        match credentials {
            Some((u, p)) => format!("rtsp://{u}:{p}@127.0.0.1:{}/cam", self.port),
            None => format!("rtsp://127.0.0.1:{}/cam", self.port),
        }
    }

    /// Kills the camera (connections drop at once).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Starts it again on the same port and path with other `server.py` arguments (a camera
    /// reconfigured, e.g. to another codec, and rebooted).
    pub fn restart_with(&mut self, args: &[&str]) {
        self.args = args.iter().map(|s| s.to_string()).collect();
        self.restart();
    }
}

impl Drop for RtspCamera {
    fn drop(&mut self) {
        self.kill();
    }
}
