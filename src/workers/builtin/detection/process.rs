//! The inference process the detection worker talks to: `node detector.cjs` from the `detection/`
//! directory (TensorFlow.js on its WebAssembly backend, with the models the npm package
//! `@vladmandic/human` ships), started on first use at a lower scheduling priority, restarted when
//! it dies or stops answering, one request at a time over stdin/stdout (a JSON header line and
//! packed RGB in, one JSON line of normalised boxes out; see `detection/detector.cjs`).
//!
//! It owns the child process and the wire protocol, nothing else: no decoding, no selection, no
//! events. When the package is not installed (or `node` is missing) every request is
//! [`DetectorError::NotInstalled`] and the worker reports the detector unavailable; nothing is
//! downloaded.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// How to start the process.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorCommand {
    /// The Node.js executable.
    pub node: String,
    /// The directory holding `detector.cjs` and its `node_modules`.
    pub dir: PathBuf,
    /// Arguments after the script (model paths, label list, …).
    pub args: Vec<String>,
    /// How long the models may take to load, and one request to be answered.
    pub start_timeout: Duration,
    /// How long one request may take.
    pub request_timeout: Duration,
}

/// One thing found, as the process reports it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Found {
    /// The label name (`face` for faces).
    #[serde(default = "face_label")]
    pub label: String,
    /// 0..1.
    pub score: f64,
    /// `[x, y, width, height]`, normalised to the picture sent.
    #[serde(rename = "box")]
    pub bbox: [f64; 4],
}

fn face_label() -> String {
    super::vocabulary::FACE.to_owned()
}

/// The answer to one picture.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Detections {
    /// Objects (the CenterNet model).
    #[serde(default)]
    pub objects: Vec<Found>,
    /// Faces (the BlazeFace model).
    #[serde(default)]
    pub faces: Vec<Found>,
    /// Inference time in the process, ms.
    #[serde(default)]
    pub ms: f64,
}

/// Why a picture got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DetectorError {
    /// The detector is not installed here (no `node`, or `npm ci` was not run in its directory).
    #[error("detector unavailable: {0}")]
    NotInstalled(String),
    /// The process failed, timed out or answered nonsense; it is restarted on the next request.
    #[error("detector failed: {0}")]
    Failed(String),
}

/// What the worker status shows about the process.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcessStatus {
    /// The `ready` line of the running process (runtime and models), if one runs.
    pub ready: Option<String>,
    /// Pictures answered since start.
    pub answered: u64,
    /// Processes started since start.
    pub starts: u64,
    /// Failed requests.
    pub failures: u64,
    /// The last error.
    pub last_error: Option<String>,
}

struct Session {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

/// The supervised inference process.
pub struct InferenceProcess {
    command: DetectorCommand,
    session: tokio::sync::Mutex<Option<Session>>,
    status: Mutex<ProcessStatus>,
}

impl std::fmt::Debug for InferenceProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InferenceProcess").field("command", &self.command).finish_non_exhaustive()
    }
}

impl InferenceProcess {
    /// A process that is started on the first request.
    pub fn new(command: DetectorCommand) -> Self {
        Self { command, session: tokio::sync::Mutex::new(None), status: Mutex::new(ProcessStatus::default()) }
    }

    /// The script it runs.
    pub fn script(&self) -> PathBuf {
        self.command.dir.join("detector.cjs")
    }

    /// Its status now.
    pub fn status(&self) -> ProcessStatus {
        self.status.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether the package the script needs is installed beside it.
    pub fn installed(dir: &Path) -> Result<(), DetectorError> {
        let script = dir.join("detector.cjs");
        if !script.is_file() {
            return Err(DetectorError::NotInstalled(format!("{} does not exist", script.display())));
        }
        let package = dir.join("node_modules").join("@vladmandic").join("human");
        if !package.is_dir() {
            return Err(DetectorError::NotInstalled(format!(
                "{} is missing: run `npm ci` in {}",
                package.display(),
                dir.display()
            )));
        }
        Ok(())
    }

    /// Detects objects and faces in a packed RGB picture.
    pub async fn detect(&self, width: u32, height: u32, rgb: &[u8]) -> Result<Detections, DetectorError> {
        let result = self.exchange(width, height, rgb).await;
        let mut status = self.status.lock().unwrap_or_else(|p| p.into_inner());
        match &result {
            Ok(_) => status.answered += 1,
            Err(e) => {
                status.failures += 1;
                status.last_error = Some(e.to_string());
                if matches!(e, DetectorError::Failed(_)) {
                    status.ready = None;
                }
            }
        }
        result
    }

    async fn exchange(&self, width: u32, height: u32, rgb: &[u8]) -> Result<Detections, DetectorError> {
        if rgb.len() != width as usize * height as usize * 3 {
            return Err(DetectorError::Failed(format!(
                "{} bytes are not a {width}x{height} RGB picture",
                rgb.len()
            )));
        }
        let mut guard = self.session.lock().await;
        if guard.is_none() {
            *guard = Some(self.start().await?);
        }
        let session = guard.as_mut().expect("started above");
        let answer = tokio::time::timeout(self.command.request_timeout, async {
            let header = format!("{{\"width\":{width},\"height\":{height}}}\n");
            session.stdin.write_all(header.as_bytes()).await?;
            session.stdin.write_all(rgb).await?;
            session.stdin.flush().await?;
            let mut line = String::new();
            session.stdout.read_line(&mut line).await?;
            Ok::<_, std::io::Error>(line)
        })
        .await;
        let line = match answer {
            Ok(Ok(line)) if !line.is_empty() => line,
            Ok(Ok(_)) => return Err(self.fail(&mut guard, "the process exited".into()).await),
            Ok(Err(e)) => return Err(self.fail(&mut guard, format!("talking to the process: {e}")).await),
            Err(_) => return Err(self.fail(&mut guard, "no answer in time".into()).await),
        };
        let value: serde_json::Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(e) => return Err(self.fail(&mut guard, format!("unreadable answer ({e})")).await),
        };
        if let Some(error) = value.get("error") {
            // The process is fine; this picture was not.
            return Err(DetectorError::Failed(error.to_string()));
        }
        serde_json::from_value(value).map_err(|e| DetectorError::Failed(format!("unexpected answer: {e}")))
    }

    /// Ends the process after a failure; the next request starts a new one.
    async fn fail(&self, session: &mut Option<Session>, why: String) -> DetectorError {
        if let Some(mut s) = session.take() {
            let _ = s.child.start_kill();
            let _ = tokio::time::timeout(Duration::from_secs(2), s.child.wait()).await;
        }
        tracing::warn!("detection process: {why}; it is restarted on the next picture");
        DetectorError::Failed(why)
    }

    async fn start(&self) -> Result<Session, DetectorError> {
        Self::installed(&self.command.dir)?;
        let mut cmd = Command::new(&self.command.node);
        cmd.arg(self.script())
            .args(&self.command.args)
            .current_dir(&self.command.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        lower_priority(&mut cmd);
        let mut child = cmd.spawn().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                DetectorError::NotInstalled(format!("cannot run {:?}: {e}", self.command.node))
            } else {
                DetectorError::Failed(format!("cannot start {:?}: {e}", self.command.node))
            }
        })?;
        self.status.lock().unwrap_or_else(|p| p.into_inner()).starts += 1;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(DetectorError::Failed("the process has no pipes".into()));
        };
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::debug!(target: "openkvs::detection", "{line}");
            }
        });
        let mut stdout = BufReader::new(stdout);
        let mut ready = String::new();
        let read = tokio::time::timeout(self.command.start_timeout, stdout.read_line(&mut ready)).await;
        let ok = matches!(read, Ok(Ok(n)) if n > 0)
            && serde_json::from_str::<serde_json::Value>(&ready).is_ok_and(|v| v["ready"] == true);
        if !ok {
            let _ = child.start_kill();
            let status = tokio::time::timeout(Duration::from_secs(2), child.wait()).await;
            return Err(DetectorError::Failed(format!(
                "the process did not get ready (exit: {status:?}; set RUST_LOG=openkvs::detection=debug for its output)"
            )));
        }
        tracing::info!("detection process ready: {}", ready.trim());
        self.status.lock().unwrap_or_else(|p| p.into_inner()).ready = Some(ready.trim().to_owned());
        Ok(Session { child, stdin, stdout })
    }
}

#[cfg(target_os = "linux")]
fn lower_priority(cmd: &mut Command) {
    let nice = crate::workers::compute::COMPUTE_NICE;
    // SAFETY: runs in the forked child before exec; setpriority is async-signal-safe and touches
    // only the child's own scheduling priority.
    unsafe {
        cmd.pre_exec(move || {
            libc::setpriority(libc::PRIO_PROCESS, 0, nice);
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority(_cmd: &mut Command) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_parse_with_faces_labelled() {
        let d: Detections = serde_json::from_str(
            r#"{"objects":[{"label":"cat","class":15,"score":0.5,"box":[0.1,0.2,0.3,0.4]}],"faces":[{"score":0.9,"box":[0,0,1,1]}],"ms":12}"#,
        )
        .unwrap();
        assert_eq!(d.objects[0].label, "cat");
        assert_eq!(d.faces[0].label, "face");
        assert_eq!(d.faces[0].bbox, [0.0, 0.0, 1.0, 1.0]);
    }

    #[tokio::test]
    async fn a_missing_installation_is_not_installed() {
        let dir = tempfile::tempdir().unwrap();
        let p = InferenceProcess::new(DetectorCommand {
            node: "node".into(),
            dir: dir.path().to_owned(),
            args: vec![],
            start_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(1),
        });
        let e = p.detect(1, 1, &[0, 0, 0]).await.unwrap_err();
        assert!(matches!(e, DetectorError::NotInstalled(_)), "{e}");
        assert_eq!(p.status().failures, 1);
    }
}
