//! [`IoCrew`]: a fixed crew of long-lived threads for the local store's parallel file work (the
//! page-cache writes of a big batch, the fdatasyncs of many segments). It owns the threads and
//! their queue, nothing else: it does not know what a job does, and callers must not give it work
//! that waits on another job of the same crew.
//!
//! Before it, every group commit of a big batch created and joined up to 2 ×
//! [`super::local::SYNC_THREADS`] scoped threads (a `clone`, a stack `mmap`/`munmap` and an exit
//! each), once to write and once to fdatasync.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

type Job = Box<dyn FnOnce() + Send + 'static>;

/// A fixed number of threads taking jobs from one queue; they end when the crew is dropped.
#[derive(Debug)]
pub struct IoCrew {
    queue: Mutex<mpsc::Sender<Job>>,
}

impl IoCrew {
    /// Starts `size` threads named `{name}-{i}`.
    pub fn start(size: usize, name: &str) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..size.max(1) {
            let rx = rx.clone();
            std::thread::Builder::new().name(format!("{name}-{i}")).spawn(move || {
                loop {
                    let job = match rx.lock() {
                        Ok(r) => r.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            })?;
        }
        Ok(Self { queue: Mutex::new(tx) })
    }

    /// Runs every job on the crew and waits for all of them; the results come back in the jobs'
    /// order (`None` for a job that panicked).
    pub fn run_all<T: Send + 'static>(&self, jobs: Vec<Box<dyn FnOnce() -> T + Send>>) -> Vec<Option<T>> {
        let n = jobs.len();
        let (done_tx, done_rx) = mpsc::channel();
        for (i, job) in jobs.into_iter().enumerate() {
            let done = done_tx.clone();
            let wrapped: Job = Box::new(move || {
                let result = std::panic::catch_unwind(AssertUnwindSafe(job)).ok();
                let _ = done.send((i, result));
            });
            let queued = self.queue.lock().map_err(|_| ()).and_then(|q| q.send(wrapped).map_err(|_| ()));
            if queued.is_err() {
                // No crew (cannot happen while `self` lives): the job is lost, reported as None.
                continue;
            }
        }
        drop(done_tx);
        let mut out: Vec<Option<T>> = (0..n).map(|_| None).collect();
        for (i, r) in done_rx {
            out[i] = r;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::IoCrew;

    #[test]
    fn runs_every_job_and_keeps_their_order() {
        let crew = IoCrew::start(3, "test-crew").unwrap();
        for _ in 0..20 {
            let jobs: Vec<Box<dyn FnOnce() -> usize + Send>> =
                (0..10usize).map(|i| Box::new(move || i * 2) as Box<dyn FnOnce() -> usize + Send>).collect();
            let got: Vec<usize> = crew.run_all(jobs).into_iter().map(Option::unwrap).collect();
            assert_eq!(got, (0..10usize).map(|i| i * 2).collect::<Vec<_>>());
        }
    }

    #[test]
    fn a_panicking_job_is_none_and_the_crew_goes_on() {
        let crew = IoCrew::start(2, "test-crew").unwrap();
        let jobs: Vec<Box<dyn FnOnce() -> u8 + Send>> = vec![Box::new(|| panic!("boom")), Box::new(|| 7)];
        assert_eq!(crew.run_all(jobs), vec![None, Some(7)]);
        let jobs: Vec<Box<dyn FnOnce() -> u8 + Send>> = vec![Box::new(|| 1), Box::new(|| 2)];
        assert_eq!(crew.run_all(jobs), vec![Some(1), Some(2)]);
    }
}
