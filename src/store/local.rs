//! [`LocalStore`]: per-stream append-only segment files under `ROOT/<stream id>/<segment>.seg`.
//!
//! Each stream has one open segment. `append` writes the fragment at the segment's end (one
//! `write` per part, no copy) and returns (segment, offset, length). A segment is closed once it
//! exceeds the roll size; it is then still fsynced by the next `sync` before its handle is dropped.
//! `sync` fdatasyncs every touched segment (and a stream directory the first time a file appears in
//! it) on up to [`SYNC_THREADS`] threads at once, so one group commit across many streams costs about
//! one journal commit, not one per stream.
//!
//! Crash safety: after a restart the store never appends to an old segment; it starts a new one
//! numbered after the highest on disk. Bytes written but never acknowledged (a torn tail) are
//! therefore never followed by acknowledged bytes, and the index only points at bytes that were
//! synced before their row was committed. This module does blocking file I/O only.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::{FragmentStore, Location, StoreError};

/// Most threads used to fsync segments in parallel.
pub const SYNC_THREADS: usize = 8;

/// Default size after which a segment is closed and a new one started.
pub const DEFAULT_SEGMENT_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Debug)]
struct Segment {
    file: File,
    number: i64,
    len: u64,
}

#[derive(Debug, Default)]
struct StreamFiles {
    current: Option<Segment>,
    /// Closed segments whose last appends have not been synced yet.
    retired: Vec<File>,
    /// Whether the current segment has unsynced appends.
    dirty: bool,
    /// Whether a file was created in the directory since the last sync.
    dir_dirty: bool,
}

/// Per-stream append-only segment files in a local directory.
#[derive(Debug)]
pub struct LocalStore {
    root: PathBuf,
    segment_bytes: u64,
    streams: Mutex<HashMap<i64, Arc<Mutex<StreamFiles>>>>,
    bytes: AtomicU64,
}

impl LocalStore {
    /// Opens (creating) the store at `root`, counting the bytes already there.
    pub fn open(root: &Path, segment_bytes: u64) -> Result<Self, StoreError> {
        fs::create_dir_all(root)?;
        let mut total = 0u64;
        for stream_dir in fs::read_dir(root)? {
            let stream_dir = stream_dir?;
            if stream_dir.file_type()?.is_dir() {
                for f in fs::read_dir(stream_dir.path())? {
                    total += f?.metadata()?.len();
                }
            }
        }
        Ok(Self {
            root: root.to_owned(),
            segment_bytes: segment_bytes.max(1),
            streams: Mutex::new(HashMap::new()),
            bytes: AtomicU64::new(total),
        })
    }

    fn stream_dir(&self, stream_id: i64) -> PathBuf {
        self.root.join(stream_id.to_string())
    }

    fn segment_path(&self, stream_id: i64, segment: i64) -> PathBuf {
        self.stream_dir(stream_id).join(format!("{segment:016}.seg"))
    }

    fn files(&self, stream_id: i64) -> Arc<Mutex<StreamFiles>> {
        let mut map = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(stream_id).or_default().clone()
    }

    /// Opens a new segment numbered after every segment already on disk.
    fn open_segment(&self, stream_id: i64, after: Option<i64>) -> Result<Segment, StoreError> {
        let dir = self.stream_dir(stream_id);
        fs::create_dir_all(&dir)?;
        let mut highest = after.unwrap_or(0);
        if after.is_none() {
            for entry in fs::read_dir(&dir)? {
                let name = entry?.file_name();
                if let Some(n) =
                    name.to_str().and_then(|n| n.strip_suffix(".seg")).and_then(|n| n.parse::<i64>().ok())
                {
                    highest = highest.max(n);
                }
            }
        }
        let number = highest + 1;
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .read(true)
            .open(self.segment_path(stream_id, number))?;
        Ok(Segment { file, number, len: 0 })
    }
}

fn sync_dir(path: &Path) -> std::io::Result<()> {
    File::open(path)?.sync_all()
}

impl FragmentStore for LocalStore {
    fn append(&self, stream_id: i64, parts: &[Bytes]) -> Result<Location, StoreError> {
        let files = self.files(stream_id);
        let mut files = files.lock().unwrap_or_else(|p| p.into_inner());
        let needs_new = match &files.current {
            None => true,
            Some(seg) => seg.len >= self.segment_bytes,
        };
        if needs_new {
            let after = files.current.as_ref().map(|s| s.number);
            let seg = self.open_segment(stream_id, after)?;
            if let Some(old) = files.current.replace(seg)
                && files.dirty
            {
                files.retired.push(old.file);
            }
            files.dir_dirty = true;
        }
        let seg = files.current.as_mut().expect("segment opened above");
        let offset = seg.len;
        let mut written = 0u64;
        for part in parts {
            if let Err(e) = seg.file.write_all(part) {
                // Leave the segment unusable for further appends: the next append starts a new one,
                // so a partial write is never followed by acknowledged bytes.
                seg.len = u64::MAX / 2;
                return Err(e.into());
            }
            written += part.len() as u64;
        }
        seg.len += written;
        let number = seg.number;
        files.dirty = true;
        self.bytes.fetch_add(written, Ordering::Relaxed);
        Ok(Location { segment: number, offset, length: written })
    }

    fn append_many(&self, items: &[(i64, &[Bytes])]) -> Vec<Result<Location, StoreError>> {
        if items.len() < 4 {
            return items.iter().map(|(id, parts)| self.append(*id, parts)).collect();
        }
        // Group by stream (keeping each stream's order), spread the streams over up to
        // SYNC_THREADS threads: copying into the page cache is the costly part of a big batch.
        let mut by_stream: HashMap<i64, Vec<usize>> = HashMap::new();
        for (i, (id, _)) in items.iter().enumerate() {
            by_stream.entry(*id).or_default().push(i);
        }
        let groups: Vec<Vec<usize>> = by_stream.into_values().collect();
        let per_thread = groups.len().div_ceil(SYNC_THREADS);
        let mut results: Vec<Option<Result<Location, StoreError>>> = (0..items.len()).map(|_| None).collect();
        std::thread::scope(|scope| {
            let handles: Vec<_> = groups
                .chunks(per_thread.max(1))
                .map(|chunk| {
                    scope.spawn(move || {
                        let mut out = Vec::new();
                        for group in chunk {
                            for &i in group {
                                let (id, parts) = items[i];
                                out.push((i, self.append(id, parts)));
                            }
                        }
                        out
                    })
                })
                .collect();
            for h in handles {
                if let Ok(out) = h.join() {
                    for (i, r) in out {
                        results[i] = Some(r);
                    }
                }
            }
        });
        results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(StoreError::Io(std::io::Error::other("store writer thread panicked")))
                })
            })
            .collect()
    }

    fn sync(&self, stream_ids: &[i64]) -> Result<(), StoreError> {
        // Collect what needs syncing under the locks (cheap fd clones), fsync outside them.
        let mut files_to_sync: Vec<File> = Vec::new();
        let mut dirs_to_sync: Vec<PathBuf> = Vec::new();
        for &id in stream_ids {
            let entry = self.files(id);
            let mut f = entry.lock().unwrap_or_else(|p| p.into_inner());
            files_to_sync.append(&mut f.retired);
            if f.dirty {
                if let Some(seg) = &f.current {
                    files_to_sync.push(seg.file.try_clone()?);
                }
                f.dirty = false;
            }
            if f.dir_dirty {
                dirs_to_sync.push(self.stream_dir(id));
                f.dir_dirty = false;
            }
        }
        if files_to_sync.is_empty() && dirs_to_sync.is_empty() {
            return Ok(());
        }
        let mut jobs: Vec<Box<dyn FnOnce() -> std::io::Result<()> + Send>> = Vec::new();
        for f in files_to_sync {
            jobs.push(Box::new(move || f.sync_data()));
        }
        for d in dirs_to_sync {
            jobs.push(Box::new(move || sync_dir(&d)));
        }
        if !jobs.is_empty() {
            // A brand-new stream directory must itself be durable in the store root.
            jobs.push(Box::new({
                let root = self.root.clone();
                move || sync_dir(&root)
            }));
        }
        let mut first_error = None;
        if jobs.len() == 1 {
            if let Err(e) = (jobs.pop().expect("one job"))() {
                first_error = Some(e);
            }
        } else {
            let per_thread = jobs.len().div_ceil(SYNC_THREADS);
            let mut groups: Vec<Vec<_>> = Vec::new();
            while !jobs.is_empty() {
                let take = per_thread.min(jobs.len());
                groups.push(jobs.drain(..take).collect());
            }
            std::thread::scope(|scope| {
                let handles: Vec<_> = groups
                    .into_iter()
                    .map(|group| scope.spawn(move || group.into_iter().map(|job| job()).find(Result::is_err)))
                    .collect();
                for h in handles {
                    if let Ok(Some(Err(e))) = h.join() {
                        first_error.get_or_insert(e);
                    }
                }
            });
        }
        match first_error {
            Some(e) => {
                // After a failed fsync the page cache state is unknown: never append to these
                // segments again (re-marking them dirty makes the next sync retry and fail loudly).
                for &id in stream_ids {
                    let entry = self.files(id);
                    let mut f = entry.lock().unwrap_or_else(|p| p.into_inner());
                    if let Some(seg) = &mut f.current {
                        seg.len = u64::MAX / 2;
                    }
                }
                Err(e.into())
            }
            None => Ok(()),
        }
    }

    fn read(&self, stream_id: i64, location: &Location) -> Result<Bytes, StoreError> {
        let path = self.segment_path(stream_id, location.segment);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(StoreError::NotFound),
            Err(e) => return Err(e.into()),
        };
        let len = usize::try_from(location.length).map_err(|_| StoreError::NotFound)?;
        let mut buf = vec![0u8; len];
        match file.read_exact_at(&mut buf, location.offset) {
            Ok(()) => Ok(Bytes::from(buf)),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(StoreError::NotFound),
            Err(e) => Err(e.into()),
        }
    }

    fn delete_stream(&self, stream_id: i64) -> Result<(), StoreError> {
        self.streams.lock().unwrap_or_else(|p| p.into_inner()).remove(&stream_id);
        let dir = self.stream_dir(stream_id);
        let mut freed = 0u64;
        match fs::read_dir(&dir) {
            Ok(entries) => {
                for e in entries.flatten() {
                    freed += e.metadata().map(|m| m.len()).unwrap_or(0);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        fs::remove_dir_all(&dir)?;
        let _ =
            self.bytes.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| Some(b.saturating_sub(freed)));
        Ok(())
    }

    fn bytes_stored(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    fn describe(&self) -> String {
        format!("local segments in {}", self.root.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_read_back_and_roll_segments() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path(), 10).unwrap();
        let a = store.append(7, &[Bytes::from_static(b"hello"), Bytes::from_static(b" world")]).unwrap();
        assert_eq!((a.segment, a.offset, a.length), (1, 0, 11));
        let b = store.append(7, &[Bytes::from_static(b"next")]).unwrap();
        assert_eq!(b.segment, 2, "the first segment passed the roll size");
        store.sync(&[7]).unwrap();
        assert_eq!(&store.read(7, &a).unwrap()[..], b"hello world");
        assert_eq!(&store.read(7, &b).unwrap()[..], b"next");
        assert_eq!(store.bytes_stored(), 15);
        let missing = Location { segment: 9, offset: 0, length: 1 };
        assert!(matches!(store.read(7, &missing), Err(StoreError::NotFound)));
    }

    #[test]
    fn a_reopened_store_starts_a_new_segment() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path(), DEFAULT_SEGMENT_BYTES).unwrap();
        let a = store.append(1, &[Bytes::from_static(b"abc")]).unwrap();
        store.sync(&[1]).unwrap();
        drop(store);
        let store = LocalStore::open(dir.path(), DEFAULT_SEGMENT_BYTES).unwrap();
        assert_eq!(store.bytes_stored(), 3);
        let b = store.append(1, &[Bytes::from_static(b"def")]).unwrap();
        assert_eq!(b.segment, a.segment + 1);
        assert_eq!(&store.read(1, &a).unwrap()[..], b"abc");
        store.delete_stream(1).unwrap();
        assert_eq!(store.bytes_stored(), 0);
        assert!(matches!(store.read(1, &a), Err(StoreError::NotFound)));
    }

    #[test]
    fn syncs_many_streams_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path(), DEFAULT_SEGMENT_BYTES).unwrap();
        let ids: Vec<i64> = (1..=40).collect();
        for &id in &ids {
            store.append(id, &[Bytes::from(vec![id as u8; 100])]).unwrap();
        }
        store.sync(&ids).unwrap();
        store.sync(&ids).unwrap(); // nothing dirty: a no-op
    }
}
