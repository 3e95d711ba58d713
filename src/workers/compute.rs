//! The analysis compute pool: a few OS threads at a lower scheduling priority (nice 10) that run
//! the CPU-heavy part of analyzers (decoding, scaling, encoding, frame differencing).
//!
//! Ingest must never wait on analysis, and that includes not losing CPU to it: on a machine whose
//! cores are busy decoding, the kernel still schedules the ingest threads (parsing, fsync, index
//! commits) first, so PERSISTED latency stays low while analysis lags (and catches up later, from
//! its cursors). One pool per process, `available_parallelism` threads, created on first use. No
//! I/O here beyond what the closures do.

use std::sync::OnceLock;
use std::sync::mpsc;

use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

/// The scheduling niceness of compute threads (Linux; ignored elsewhere).
pub const COMPUTE_NICE: i32 = 10;

fn pool() -> &'static std::sync::Mutex<mpsc::Sender<Job>> {
    static POOL: OnceLock<std::sync::Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    POOL.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        let n = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        for i in 0..n {
            let rx = rx.clone();
            let spawned =
                std::thread::Builder::new().name(format!("openkvs-analysis-{i}")).spawn(move || {
                    lower_priority();
                    loop {
                        let job = match rx.lock() {
                            Ok(guard) => guard.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!("cannot start analysis thread: {e}");
            }
        }
        std::sync::Mutex::new(tx)
    })
}

#[cfg(target_os = "linux")]
fn lower_priority() {
    // SAFETY: setpriority on this thread's own id (PRIO_PROCESS with a tid affects only that thread
    // on Linux); no memory is shared with the call.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, COMPUTE_NICE);
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

/// Runs `f` on the compute pool and waits for its result. A panic in `f` is contained and
/// resumes in the awaiting task (where the worker framework isolates it).
pub async fn run<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    });
    let sent = pool().lock().map(|p| p.send(job).is_ok()).unwrap_or(false);
    assert!(sent, "the analysis compute pool is gone");
    match rx.await {
        Ok(Ok(v)) => v,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("an analysis compute thread died"),
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn runs_jobs_and_propagates_panics() {
        assert_eq!(super::run(|| 6 * 7).await, 42);
        let caught = tokio::spawn(super::run(|| -> u8 { panic!("boom") })).await;
        assert!(caught.unwrap_err().is_panic());
        assert_eq!(super::run(|| 1).await, 1, "the pool survives a panic");
    }
}
