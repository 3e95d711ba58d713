//! [`LocalStore`]: per-stream append-only segment files under `ROOT/<stream id>/<segment>.seg`,
//! where ROOT is the HOT directory (`DATA_DIR/fragments`) or the WARM one (`[store.local]
//! warm_dir`, by default `DATA_DIR/fragments-warm`) as the fragment's tier says.
//!
//! Each stream has one open segment, in the tier of its last append. `append` writes the fragment
//! at the segment's end (one `writev` for all parts, no copy) and returns (segment, offset,
//! length, tier). A fragment streamed in while it arrives ([`FragmentStore::open_writer`],
//! [`LocalWriter`]) is written the same way but piecewise: the writer holds the region from the
//! segment's end, every write is one positional `pwrite` on the caller's thread (a page-cache
//! copy; no hand-off to another thread), `finish` makes the region part of the segment and marks
//! it for the next `sync`, and a writer dropped unfinished truncates the segment back to where the
//! fragment started. A segment with an open writer gets no other writer or append (they start a
//! new segment) and is never removed by reclaim. A segment is closed once it exceeds the roll size, or when the stream's tier changes
//! (the next segment opens in the other directory, numbered after it); it is then still fsynced
//! by the next `sync` before its handle is dropped. Segment numbers of a stream are unique across
//! the two directories. `sync` fdatasyncs every touched segment (and a stream directory the first
//! time a file appears in it) on up to [`SYNC_THREADS`] threads at once, so one group commit
//! across many streams costs about one journal commit, not one per stream. Those threads are a
//! long-lived crew ([`super::io_crew::IoCrew`]) started with the store, not spawned per batch.
//!
//! Crash safety: after a restart the store never appends to an old segment; it starts a new one
//! numbered after the highest on disk. Bytes written but never acknowledged (a torn tail) are
//! therefore never followed by acknowledged bytes, and the index only points at bytes that were
//! synced before their row was committed. Reconciliation ([`FragmentStore::reconcile`], run once at
//! startup, before any append) then trims what a crash left behind: each stream's newest indexed
//! segment is truncated to the end of its last indexed fragment and newer, unindexed segments are
//! removed, in both directories, so torn tails neither hold disk nor survive to be misread
//! (design/0006-crash-safety.md).
//!
//! [`SegmentFiles`] does the blocking file I/O; [`LocalStore`] is the async [`FragmentStore`] over
//! it, running each call on a blocking thread.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{IoSlice, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use bytes::Bytes;

use async_trait::async_trait;

use super::io_crew::IoCrew;
use super::{
    FragmentBytes, FragmentStore, HighWater, Location, Reclaimed, Reconciliation, SegmentWriter, StoreError,
};
use crate::model::StorageTier;

/// Most threads used to fsync segments in parallel.
pub const SYNC_THREADS: usize = 8;

/// Default size after which a segment is closed and a new one started.
pub const DEFAULT_SEGMENT_BYTES: u64 = 64 * 1024 * 1024;

/// Both tiers, HOT first.
const TIERS: [StorageTier; 2] = [StorageTier::Hot, StorageTier::Warm];

#[derive(Debug)]
struct Segment {
    /// Shared so `sync` can fdatasync it outside the stream's lock without a `dup`.
    file: Arc<File>,
    number: i64,
    len: u64,
    tier: StorageTier,
}

#[derive(Debug, Default)]
struct StreamFiles {
    current: Option<Segment>,
    /// Closed segments whose last appends have not been synced yet.
    retired: Vec<Arc<File>>,
    /// Whether the current segment has unsynced appends.
    dirty: bool,
    /// Tiers whose stream directory got a new file since the last sync.
    dirs_dirty: BTreeSet<usize>,
    /// The highest segment number the index references (set by `recover`): a new segment is
    /// numbered after it even if its file is missing, so a referenced number is never reused.
    indexed_segment: i64,
    /// Segments with an open [`LocalWriter`] (in use: no other write, never reclaimed).
    writing: Vec<i64>,
}

/// One segment file found on disk.
#[derive(Debug)]
struct FoundSegment {
    tier: StorageTier,
    number: i64,
    path: PathBuf,
    len: u64,
}

/// Per-stream append-only segment files in a HOT and a WARM directory: the blocking side of
/// [`LocalStore`].
#[derive(Debug)]
pub struct SegmentFiles {
    /// The HOT and WARM roots, indexed by [`tier_index`].
    roots: [PathBuf; 2],
    segment_bytes: u64,
    streams: Mutex<HashMap<i64, Arc<Mutex<StreamFiles>>>>,
    bytes: AtomicU64,
    /// Streams deleted in this process: appends for them are refused, so a persist racing
    /// DeleteStream cannot re-create the directory just removed.
    deleted: RwLock<HashSet<i64>>,
    /// The threads that write big batches and fdatasync segments in parallel.
    crew: IoCrew,
}

fn tier_index(tier: StorageTier) -> usize {
    match tier {
        StorageTier::Hot => 0,
        StorageTier::Warm => 1,
    }
}

fn segment_number(name: &std::ffi::OsStr) -> Option<i64> {
    name.to_str().and_then(|n| n.strip_suffix(".seg")).and_then(|n| n.parse::<i64>().ok())
}

/// The stream ids of the numbered directories under `root` (none if it does not exist).
fn stream_dirs(root: &Path) -> std::io::Result<Vec<i64>> {
    let entries = match fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut ids = Vec::new();
    for entry in entries {
        let entry = entry?;
        if entry.file_type()?.is_dir()
            && let Some(id) = entry.file_name().to_str().and_then(|n| n.parse::<i64>().ok())
        {
            ids.push(id);
        }
    }
    Ok(ids)
}

impl SegmentFiles {
    /// Opens (creating) the store at the `hot` and `warm` roots, counting the bytes already there.
    pub fn open(hot: &Path, warm: &Path, segment_bytes: u64) -> Result<Self, StoreError> {
        if hot == warm {
            return Err(StoreError::Io(std::io::Error::other(format!(
                "the HOT and WARM fragment directories are the same ({})",
                hot.display()
            ))));
        }
        let store = Self {
            roots: [hot.to_owned(), warm.to_owned()],
            segment_bytes: segment_bytes.max(1),
            streams: Mutex::new(HashMap::new()),
            bytes: AtomicU64::new(0),
            deleted: RwLock::new(HashSet::new()),
            crew: IoCrew::start(SYNC_THREADS, "store-io")?,
        };
        let mut total = 0u64;
        for root in &store.roots {
            fs::create_dir_all(root)?;
        }
        for id in store.stream_ids()? {
            total += store.segments(id)?.iter().map(|s| s.len).sum::<u64>();
        }
        store.bytes.store(total, Ordering::Relaxed);
        Ok(store)
    }

    fn root(&self, tier: StorageTier) -> &Path {
        &self.roots[tier_index(tier)]
    }

    fn stream_dir(&self, tier: StorageTier, stream_id: i64) -> PathBuf {
        self.root(tier).join(stream_id.to_string())
    }

    fn segment_path(&self, tier: StorageTier, stream_id: i64, segment: i64) -> PathBuf {
        self.stream_dir(tier, stream_id).join(format!("{segment:016}.seg"))
    }

    fn files(&self, stream_id: i64) -> Arc<Mutex<StreamFiles>> {
        let mut map = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(stream_id).or_default().clone()
    }

    /// Every segment file of a stream, in both tiers.
    fn segments(&self, stream_id: i64) -> std::io::Result<Vec<FoundSegment>> {
        let mut out = Vec::new();
        for tier in TIERS {
            let entries = match fs::read_dir(self.stream_dir(tier, stream_id)) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            for entry in entries {
                let entry = entry?;
                if let Some(number) = segment_number(&entry.file_name()) {
                    out.push(FoundSegment { tier, number, path: entry.path(), len: entry.metadata()?.len() });
                }
            }
        }
        Ok(out)
    }

    /// Opens a new segment in `tier`, numbered after every segment of the stream already on disk
    /// in either tier (and after `floor`).
    fn open_segment(
        &self,
        stream_id: i64,
        tier: StorageTier,
        after: Option<i64>,
        floor: i64,
    ) -> Result<Segment, StoreError> {
        fs::create_dir_all(self.stream_dir(tier, stream_id))?;
        let mut highest = after.unwrap_or(0).max(floor);
        if after.is_none() {
            highest = self.segments(stream_id)?.iter().map(|s| s.number).fold(highest, i64::max);
        }
        let number = highest + 1;
        // Not O_APPEND: streamed fragments are written with positional writes (which O_APPEND
        // would send to the end of the file), appends seek to the segment's end first.
        let file = OpenOptions::new()
            .create_new(true)
            .write(true)
            .read(true)
            .open(self.segment_path(tier, stream_id, number))?;
        Ok(Segment { file: Arc::new(file), number, len: 0, tier })
    }
}

impl SegmentFiles {
    /// Crash recovery, run once at startup before any append. `indexed` maps each stream the index
    /// has fragments for to (its highest referenced segment, the end of the last referenced byte in
    /// it) — the index is the source of truth, since a row commits only after its bytes are synced.
    ///
    /// Per such stream: bytes past that end in that segment (a torn or never-acknowledged tail) are
    /// truncated, and segments numbered after it (opened and written but never acknowledged) are
    /// deleted, in either tier; both changes are fsynced. Older segments are left alone: they were
    /// closed before the newest one started, so they hold no tail that could precede acknowledged
    /// bytes. Directories of streams the index has no fragments for are reported, not deleted:
    /// that is also what an index pointed at the wrong database looks like, and the store must not
    /// destroy data on a misconfiguration (their bytes are unreachable and never appended to either
    /// way).
    pub fn recover(&self, indexed: &HashMap<i64, HighWater>) -> Result<Reconciliation, StoreError> {
        let mut report = Reconciliation::default();
        for (&id, hw) in indexed {
            let files = self.files(id);
            files.lock().unwrap_or_else(|p| p.into_inner()).indexed_segment = hw.segment;
        }
        for id in self.stream_ids()? {
            let segments = self.segments(id)?;
            let Some(&HighWater { segment: last, end }) = indexed.get(&id) else {
                if !segments.is_empty() {
                    report.unindexed_streams.push(id);
                }
                continue;
            };
            let mut changed_dirs = BTreeSet::new();
            let mut last_seen = false;
            for seg in segments {
                if seg.number > last {
                    fs::remove_file(&seg.path)?;
                    report.removed_segments += 1;
                    report.bytes_dropped += seg.len;
                    changed_dirs.insert(tier_index(seg.tier));
                } else if seg.number == last {
                    last_seen = true;
                    if seg.len > end {
                        let file = OpenOptions::new().write(true).open(&seg.path)?;
                        file.set_len(end)?;
                        file.sync_all()?;
                        report.truncated_segments += 1;
                        report.bytes_dropped += seg.len - end;
                    } else if seg.len < end {
                        report.short_segments.push((id, seg.number, end, seg.len));
                    }
                }
            }
            if !last_seen {
                report.short_segments.push((id, last, end, 0));
            }
            for tier in changed_dirs {
                sync_dir(&self.stream_dir(TIERS[tier], id))?;
            }
        }
        report.short_segments.sort_unstable();
        let dropped = report.bytes_dropped;
        let _ = self
            .bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| Some(b.saturating_sub(dropped)));
        Ok(report)
    }
}

/// Writes every byte of `parts` in order with as few `writev` calls as the kernel allows (at
/// most `IOV_MAX` = 1024 slices per call).
fn write_all_vectored(mut file: &File, parts: &[Bytes]) -> std::io::Result<()> {
    const MAX_SLICES: usize = 1024;
    for batch in parts.chunks(MAX_SLICES) {
        let mut slices: Vec<IoSlice<'_>> =
            batch.iter().filter(|p| !p.is_empty()).map(|p| IoSlice::new(p)).collect();
        let mut rest = &mut slices[..];
        while !rest.is_empty() {
            match file.write_vectored(rest) {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => IoSlice::advance_slices(&mut rest, n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

fn sync_dir(path: &Path) -> std::io::Result<()> {
    File::open(path)?.sync_all()
}

impl SegmentFiles {
    /// Makes the stream's current segment one a new fragment in `tier` may be written at the end
    /// of: a new segment when there is none, or it is full, in another tier or has a writer.
    fn make_room(
        &self,
        stream_id: i64,
        files: &mut StreamFiles,
        tier: StorageTier,
    ) -> Result<(), StoreError> {
        let needs_new = match &files.current {
            None => true,
            Some(seg) => {
                seg.len >= self.segment_bytes || seg.tier != tier || files.writing.contains(&seg.number)
            }
        };
        if needs_new {
            let after = files.current.as_ref().map(|s| s.number);
            let seg = self.open_segment(stream_id, tier, after, files.indexed_segment)?;
            if let Some(old) = files.current.replace(seg)
                && files.dirty
            {
                files.retired.push(old.file);
            }
            files.dirty = false;
            files.dirs_dirty.insert(tier_index(tier));
        }
        Ok(())
    }

    /// Refuses writes for a stream whose files were removed (DeleteStream).
    fn refuse_deleted(&self, stream_id: i64) -> Result<(), StoreError> {
        if self.deleted.read().unwrap_or_else(|p| p.into_inner()).contains(&stream_id) {
            return Err(StoreError::Io(std::io::Error::other("the stream was deleted")));
        }
        Ok(())
    }

    /// Opens a writer for one fragment of `stream_id` in `tier` at the end of its current
    /// segment (see [`FragmentStore::open_writer`]).
    pub fn open_writer(
        self: &Arc<Self>,
        stream_id: i64,
        tier: StorageTier,
    ) -> Result<LocalWriter, StoreError> {
        self.refuse_deleted(stream_id)?;
        let entry = self.files(stream_id);
        let mut files = entry.lock().unwrap_or_else(|p| p.into_inner());
        self.make_room(stream_id, &mut files, tier)?;
        let seg = files.current.as_ref().expect("segment opened above");
        let (file, segment, start) = (seg.file.clone(), seg.number, seg.len);
        files.writing.push(segment);
        drop(files);
        Ok(LocalWriter { store: self.clone(), stream_id, entry, file, segment, start, tier, finished: false })
    }

    /// Appends one fragment of `stream_id` to `tier` (see [`FragmentStore::append`]).
    pub fn append(&self, stream_id: i64, tier: StorageTier, parts: &[Bytes]) -> Result<Location, StoreError> {
        self.refuse_deleted(stream_id)?;
        let files = self.files(stream_id);
        let mut files = files.lock().unwrap_or_else(|p| p.into_inner());
        self.make_room(stream_id, &mut files, tier)?;
        let seg = files.current.as_mut().expect("segment opened above");
        let offset = seg.len;
        // One writev for all parts (a fragment is a part per frame): a syscall per fragment
        // instead of one per frame.
        let written =
            (&*seg.file).seek(SeekFrom::Start(offset)).and_then(|_| write_all_vectored(&seg.file, parts));
        if let Err(e) = written {
            // Leave the segment unusable for further appends: the next append starts a new one,
            // so a partial write is never followed by acknowledged bytes.
            seg.len = u64::MAX / 2;
            return Err(e.into());
        }
        let written: u64 = parts.iter().map(|p| p.len() as u64).sum();
        seg.len += written;
        let number = seg.number;
        files.dirty = true;
        self.bytes.fetch_add(written, Ordering::Relaxed);
        Ok(Location { segment: number, offset, length: written, tier })
    }

    /// Appends several fragments, writing different streams in parallel on the store's crew.
    pub fn append_many(self: &Arc<Self>, items: Vec<FragmentBytes>) -> Vec<Result<Location, StoreError>> {
        if items.len() < 4 {
            return items.iter().map(|f| self.append(f.stream_id, f.tier, &f.parts)).collect();
        }
        // Group by stream (keeping each stream's order), spread the streams over up to
        // SYNC_THREADS crew threads: copying into the page cache is the costly part of a big batch.
        let n = items.len();
        let mut by_stream: HashMap<i64, Vec<(usize, FragmentBytes)>> = HashMap::new();
        for (i, f) in items.into_iter().enumerate() {
            by_stream.entry(f.stream_id).or_default().push((i, f));
        }
        let mut groups: Vec<Vec<(usize, FragmentBytes)>> = by_stream.into_values().collect();
        let per_thread = groups.len().div_ceil(SYNC_THREADS).max(1);
        type Written = Vec<(usize, Result<Location, StoreError>)>;
        let mut jobs: Vec<Box<dyn FnOnce() -> Written + Send>> = Vec::new();
        let mut indices: Vec<Vec<usize>> = Vec::new();
        while !groups.is_empty() {
            let take = per_thread.min(groups.len());
            let chunk: Vec<Vec<(usize, FragmentBytes)>> = groups.drain(..take).collect();
            indices.push(chunk.iter().flatten().map(|(i, _)| *i).collect());
            let files = self.clone();
            jobs.push(Box::new(move || {
                chunk
                    .into_iter()
                    .flatten()
                    .map(|(i, f)| (i, files.append(f.stream_id, f.tier, &f.parts)))
                    .collect()
            }));
        }
        let mut results: Vec<Option<Result<Location, StoreError>>> = (0..n).map(|_| None).collect();
        for (out, ids) in self.crew.run_all(jobs).into_iter().zip(indices) {
            match out {
                Some(out) => out.into_iter().for_each(|(i, r)| results[i] = Some(r)),
                // A writer that panicked: its fragments fail (none of them is acknowledged).
                None => ids.into_iter().for_each(|i| {
                    results[i] =
                        Some(Err(StoreError::Io(std::io::Error::other("store writer thread panicked"))))
                }),
            }
        }
        results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(StoreError::Io(std::io::Error::other("store writer thread panicked")))
                })
            })
            .collect()
    }

    /// fdatasyncs every touched segment of the streams (and new directories), in parallel.
    pub fn sync(&self, stream_ids: &[i64]) -> Result<(), StoreError> {
        // Collect what needs syncing under the locks (cheap fd clones), fsync outside them.
        let mut files_to_sync: Vec<Arc<File>> = Vec::new();
        let mut dirs_to_sync: Vec<PathBuf> = Vec::new();
        let mut roots_to_sync = BTreeSet::new();
        for &id in stream_ids {
            let entry = self.files(id);
            let mut f = entry.lock().unwrap_or_else(|p| p.into_inner());
            files_to_sync.append(&mut f.retired);
            if f.dirty {
                if let Some(seg) = &f.current {
                    files_to_sync.push(seg.file.clone());
                }
                f.dirty = false;
            }
            for tier in std::mem::take(&mut f.dirs_dirty) {
                dirs_to_sync.push(self.stream_dir(TIERS[tier], id));
                roots_to_sync.insert(tier);
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
        // A brand-new stream directory must itself be durable in its root.
        for tier in roots_to_sync {
            let root = self.roots[tier].clone();
            jobs.push(Box::new(move || sync_dir(&root)));
        }
        let mut first_error = None;
        if jobs.len() == 1 {
            if let Err(e) = (jobs.pop().expect("one job"))() {
                first_error = Some(e);
            }
        } else {
            let per_thread = jobs.len().div_ceil(SYNC_THREADS);
            let mut groups: Vec<Box<dyn FnOnce() -> std::io::Result<()> + Send>> = Vec::new();
            while !jobs.is_empty() {
                let take = per_thread.min(jobs.len());
                let group: Vec<_> = jobs.drain(..take).collect();
                groups.push(Box::new(move || group.into_iter().try_for_each(|job| job())));
            }
            for r in self.crew.run_all(groups) {
                match r {
                    Some(Ok(())) => {}
                    Some(Err(e)) => {
                        first_error.get_or_insert(e);
                    }
                    None => {
                        first_error.get_or_insert(std::io::Error::other("store sync thread panicked"));
                    }
                }
            }
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

    /// Reads a fragment back from its tier.
    pub fn read(&self, stream_id: i64, location: &Location) -> Result<Bytes, StoreError> {
        let path = self.segment_path(location.tier, stream_id, location.segment);
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

    /// Removes the stream's directories and refuses later appends to it.
    pub fn delete_stream(&self, stream_id: i64) -> Result<Reclaimed, StoreError> {
        self.deleted.write().unwrap_or_else(|p| p.into_inner()).insert(stream_id);
        // Wait out an append in progress (it holds the stream's lock), then forget the files.
        let files = self.files(stream_id);
        drop(files.lock().unwrap_or_else(|p| p.into_inner()));
        self.streams.lock().unwrap_or_else(|p| p.into_inner()).remove(&stream_id);
        let segments = self.segments(stream_id)?;
        let freed: u64 = segments.iter().map(|s| s.len).sum();
        for tier in TIERS {
            match fs::remove_dir_all(self.stream_dir(tier, stream_id)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        let _ =
            self.bytes.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| Some(b.saturating_sub(freed)));
        Ok(Reclaimed { segments: segments.len() as u64, bytes: freed })
    }

    /// Unlinks the stream's segment files numbered below `below` (`None`: all), in both tiers.
    pub fn remove_segments_below(&self, stream_id: i64, below: Option<i64>) -> Result<Reclaimed, StoreError> {
        let files = self.files(stream_id);
        let mut files = files.lock().unwrap_or_else(|p| p.into_inner());
        let (mut removed, mut freed, mut highest_removed) = (0u64, 0u64, None::<i64>);
        let mut kept = [false; 2];
        let mut emptied = [false; 2];
        for seg in self.segments(stream_id)? {
            let t = tier_index(seg.tier);
            if below.is_some_and(|b| seg.number >= b) || files.writing.contains(&seg.number) {
                kept[t] = true;
                continue;
            }
            fs::remove_file(&seg.path)?;
            removed += 1;
            freed += seg.len;
            emptied[t] = true;
            highest_removed = highest_removed.max(Some(seg.number));
        }
        if let Some(h) = highest_removed {
            if files.current.as_ref().is_some_and(|c| c.number <= h && !files.writing.contains(&c.number)) {
                // Its bytes were all unreferenced (the caller's guarantee): close it.
                files.current = None;
                files.dirty = false;
            }
            // A number once used is never reused in this process, so a stale location read by a
            // slow reader finds nothing rather than another fragment's bytes.
            files.indexed_segment = files.indexed_segment.max(h);
            for tier in TIERS {
                let t = tier_index(tier);
                if !emptied[t] {
                    continue;
                }
                let dir = self.stream_dir(tier, stream_id);
                let open_here = files.current.as_ref().is_some_and(|c| c.tier == tier);
                if !kept[t] && !open_here {
                    let _ = fs::remove_dir(&dir);
                    sync_dir(self.root(tier))?;
                } else {
                    sync_dir(&dir)?;
                }
            }
        }
        let _ =
            self.bytes.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| Some(b.saturating_sub(freed)));
        Ok(Reclaimed { segments: removed, bytes: freed })
    }

    /// Ids of the streams with a directory in either tier, ascending.
    pub fn stream_ids(&self) -> Result<Vec<i64>, StoreError> {
        let mut ids = BTreeSet::new();
        for root in &self.roots {
            ids.extend(stream_dirs(root)?);
        }
        Ok(ids.into_iter().collect())
    }

    /// Creates, writes and removes a probe file in both tiers.
    pub fn check_writable(&self) -> Result<(), StoreError> {
        for root in &self.roots {
            let probe = root.join(".ready-probe");
            fs::write(&probe, b"ok")?;
            fs::remove_file(&probe)?;
        }
        Ok(())
    }

    /// Total bytes held.
    pub fn bytes_stored(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}

/// One fragment being written into a local segment ([`SegmentFiles::open_writer`]); see the
/// module documentation.
#[derive(Debug)]
pub struct LocalWriter {
    store: Arc<SegmentFiles>,
    stream_id: i64,
    entry: Arc<Mutex<StreamFiles>>,
    file: Arc<File>,
    segment: i64,
    start: u64,
    tier: StorageTier,
    finished: bool,
}

impl LocalWriter {
    /// Forgets the writer in its stream's bookkeeping; with `failed`, the segment takes no more
    /// fragments (its state after a failed write or truncation is unknown).
    fn release(&self, files: &mut StreamFiles, failed: bool) {
        files.writing.retain(|&n| n != self.segment);
        if failed && let Some(seg) = files.current.as_mut().filter(|c| c.number == self.segment) {
            seg.len = u64::MAX / 2;
        }
    }
}

impl SegmentWriter for LocalWriter {
    fn write_at(&mut self, offset: u64, bytes: &[u8]) -> Result<(), StoreError> {
        Ok(self.file.write_all_at(bytes, self.start + offset)?)
    }

    fn finish(mut self: Box<Self>, length: u64) -> Result<Location, StoreError> {
        let entry = self.entry.clone();
        let mut files = entry.lock().unwrap_or_else(|p| p.into_inner());
        // Deleted meanwhile: dropped unfinished, the (unlinked) file is truncated, nothing is
        // reported written.
        self.store.refuse_deleted(self.stream_id)?;
        self.finished = true;
        self.release(&mut files, false);
        match files.current.as_mut().filter(|c| c.number == self.segment) {
            Some(seg) => {
                seg.len = seg.len.max(self.start + length);
                files.dirty = true;
            }
            // Rolled over meanwhile (another writer or append started a new segment): it still
            // needs its sync.
            None => files.retired.push(self.file.clone()),
        }
        self.store.bytes.fetch_add(length, Ordering::Relaxed);
        Ok(Location { segment: self.segment, offset: self.start, length, tier: self.tier })
    }
}

impl Drop for LocalWriter {
    /// An unfinished fragment (rejected, abandoned, failed) is cut off again.
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let entry = self.entry.clone();
        let mut files = entry.lock().unwrap_or_else(|p| p.into_inner());
        let truncated = self.file.set_len(self.start);
        if let Err(e) = &truncated {
            tracing::warn!("stream {}: cutting off an abandoned fragment failed: {e}", self.stream_id);
        }
        self.release(&mut files, truncated.is_err());
    }
}

/// The local-directory [`FragmentStore`]: [`SegmentFiles`] behind blocking threads.
#[derive(Debug, Clone)]
pub struct LocalStore {
    files: Arc<SegmentFiles>,
}

impl LocalStore {
    /// Opens (creating) the store at the `hot` and `warm` roots, counting the bytes already there.
    pub fn open(hot: &Path, warm: &Path, segment_bytes: u64) -> Result<Self, StoreError> {
        Ok(Self { files: Arc::new(SegmentFiles::open(hot, warm, segment_bytes)?) })
    }

    /// Runs `f` on the segment files on a blocking thread.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&SegmentFiles) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let files = self.files.clone();
        tokio::task::spawn_blocking(move || f(&files)).await.unwrap_or_else(|e| {
            Err(StoreError::Io(std::io::Error::other(format!("store thread failed: {e}"))))
        })
    }
}

#[async_trait]
impl FragmentStore for LocalStore {
    fn open_writer(
        &self,
        stream_id: i64,
        tier: StorageTier,
    ) -> Result<Option<Box<dyn SegmentWriter>>, StoreError> {
        Ok(Some(Box::new(self.files.open_writer(stream_id, tier)?)))
    }

    async fn append(&self, items: Vec<FragmentBytes>) -> Vec<Result<Location, StoreError>> {
        let n = items.len();
        let files = self.files.clone();
        let written = tokio::task::spawn_blocking(move || files.append_many(items)).await;
        written.unwrap_or_else(|e| {
            (0..n)
                .map(|_| Err(StoreError::Io(std::io::Error::other(format!("store thread failed: {e}")))))
                .collect()
        })
    }

    async fn sync(&self, stream_ids: Vec<i64>) -> Result<(), StoreError> {
        self.blocking(move |f| f.sync(&stream_ids)).await
    }

    async fn read(&self, stream_id: i64, location: Location) -> Result<Bytes, StoreError> {
        self.blocking(move |f| f.read(stream_id, &location)).await
    }

    async fn delete_stream(&self, stream_id: i64) -> Result<Reclaimed, StoreError> {
        self.blocking(move |f| f.delete_stream(stream_id)).await
    }

    async fn remove_segments_below(
        &self,
        stream_id: i64,
        below: Option<i64>,
    ) -> Result<Reclaimed, StoreError> {
        self.blocking(move |f| f.remove_segments_below(stream_id, below)).await
    }

    async fn stream_ids(&self) -> Result<Vec<i64>, StoreError> {
        self.blocking(|f| f.stream_ids()).await
    }

    async fn reconcile(&self, referenced: HashMap<i64, HighWater>) -> Result<Reconciliation, StoreError> {
        self.blocking(move |f| f.recover(&referenced)).await
    }

    async fn check_writable(&self) -> Result<(), StoreError> {
        self.blocking(|f| f.check_writable()).await
    }

    /// A local directory belongs to one process (the data-directory lock), never to a cluster's
    /// several writers: its numbering needs no floor.
    fn number_segments_from(&self, _stream_id: i64, _floor: i64) {}

    fn bytes_stored(&self) -> u64 {
        self.files.bytes_stored()
    }

    fn describe(&self) -> String {
        format!(
            "local segments in {} (WARM tier: {})",
            self.files.roots[0].display(),
            self.files.roots[1].display()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOT: StorageTier = StorageTier::Hot;
    const WARM: StorageTier = StorageTier::Warm;

    /// A store with its HOT root at `dir` and its WARM root inside it (a non-numeric directory the
    /// HOT side ignores).
    fn open_files(dir: &Path, segment_bytes: u64) -> SegmentFiles {
        SegmentFiles::open(dir, &dir.join("warm"), segment_bytes).unwrap()
    }

    fn hw(segment: i64, end: u64) -> HighWater {
        HighWater { segment, end }
    }

    #[test]
    fn appends_read_back_and_roll_segments() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_files(dir.path(), 10);
        let a = store.append(7, HOT, &[Bytes::from_static(b"hello"), Bytes::from_static(b" world")]).unwrap();
        assert_eq!((a.segment, a.offset, a.length), (1, 0, 11));
        let b = store.append(7, HOT, &[Bytes::from_static(b"next")]).unwrap();
        assert_eq!(b.segment, 2, "the first segment passed the roll size");
        store.sync(&[7]).unwrap();
        assert_eq!(&store.read(7, &a).unwrap()[..], b"hello world");
        assert_eq!(&store.read(7, &b).unwrap()[..], b"next");
        assert_eq!(store.bytes_stored(), 15);
        let missing = Location { segment: 9, offset: 0, length: 1, tier: HOT };
        assert!(matches!(store.read(7, &missing), Err(StoreError::NotFound)));
    }

    #[test]
    fn a_fragment_of_many_parts_is_written_whole_and_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_files(dir.path(), DEFAULT_SEGMENT_BYTES);
        // More parts than one writev takes, some empty.
        let parts: Vec<Bytes> =
            (0..2500u32).map(|i| Bytes::from(vec![(i % 251) as u8; (i % 7) as usize])).collect();
        let expected: Vec<u8> = parts.iter().flat_map(|p| p.iter().copied()).collect();
        let a = store.append(3, HOT, &parts).unwrap();
        let b = store.append(3, HOT, &[Bytes::from_static(b"after")]).unwrap();
        store.sync(&[3]).unwrap();
        assert_eq!(a.length, expected.len() as u64);
        assert_eq!(&store.read(3, &a).unwrap()[..], &expected[..]);
        assert_eq!(b.offset, a.offset + a.length);
        assert_eq!(&store.read(3, &b).unwrap()[..], b"after");
    }

    #[test]
    fn a_reopened_store_starts_a_new_segment() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_files(dir.path(), DEFAULT_SEGMENT_BYTES);
        let a = store.append(1, HOT, &[Bytes::from_static(b"abc")]).unwrap();
        store.sync(&[1]).unwrap();
        drop(store);
        let store = open_files(dir.path(), DEFAULT_SEGMENT_BYTES);
        assert_eq!(store.bytes_stored(), 3);
        let b = store.append(1, HOT, &[Bytes::from_static(b"def")]).unwrap();
        assert_eq!(b.segment, a.segment + 1);
        assert_eq!(&store.read(1, &a).unwrap()[..], b"abc");
        store.delete_stream(1).unwrap();
        assert_eq!(store.bytes_stored(), 0);
        assert!(matches!(store.read(1, &a), Err(StoreError::NotFound)));
    }

    /// A crash after a batch was written but before its rows committed leaves a torn tail in the
    /// current segment (here: a half-written fragment after two indexed ones) and possibly a newer,
    /// never-acknowledged segment. Recovery cuts both back to what the index knows, keeps every
    /// indexed byte, and later appends land in a fresh segment that reads back intact.
    #[test]
    fn recovery_cuts_torn_tails_back_to_the_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_files(dir.path(), 64);
        let a = store.append(3, HOT, &[Bytes::from_static(b"first fragment")]).unwrap();
        let b = store.append(3, HOT, &[Bytes::from_static(b"second fragment")]).unwrap();
        store.sync(&[3]).unwrap();
        // Indexed so far: a and b (their rows committed after that sync). Then the crash: a write
        // torn halfway through a third fragment, never synced, never indexed.
        let torn = store.append(3, HOT, &[Bytes::from_static(b"third frag")]).unwrap();
        assert_eq!(torn.segment, b.segment);
        // Stream 4: its indexed fragment lives in segment 1; segment 2 was opened (roll) and
        // written but the batch never committed.
        let store4 = open_files(dir.path(), 8);
        let c = store4.append(4, HOT, &[Bytes::from_static(b"indexed!!")]).unwrap();
        let lost = store4.append(4, HOT, &[Bytes::from_static(b"unacked")]).unwrap();
        assert_eq!((c.segment, lost.segment), (1, 2));
        // Stream 5: a directory with a segment but no indexed fragments at all.
        store4.append(5, HOT, &[Bytes::from_static(b"orphan")]).unwrap();
        drop((store, store4));
        let seg3 = dir.path().join("3").join(format!("{:016}.seg", b.segment));
        // Simulate the kernel having kept only part of the torn write.
        let f = OpenOptions::new().write(true).open(&seg3).unwrap();
        f.set_len(b.offset + b.length + 4).unwrap();
        drop(f);

        let store = open_files(dir.path(), DEFAULT_SEGMENT_BYTES);
        let indexed = HashMap::from([(3, hw(b.segment, b.offset + b.length)), (4, hw(c.segment, c.length))]);
        let report = store.recover(&indexed).unwrap();
        assert_eq!(report.truncated_segments, 1);
        assert_eq!(report.removed_segments, 1);
        assert_eq!(report.bytes_dropped, 4 + 7);
        assert_eq!(report.unindexed_streams, vec![5]);
        assert!(report.short_segments.is_empty());
        assert_eq!(fs::metadata(&seg3).unwrap().len(), b.offset + b.length);
        assert!(!dir.path().join("4").join(format!("{:016}.seg", lost.segment)).exists());
        assert_eq!(&store.read(3, &a).unwrap()[..], b"first fragment");
        assert_eq!(&store.read(3, &b).unwrap()[..], b"second fragment");
        assert_eq!(&store.read(4, &c).unwrap()[..], b"indexed!!");
        assert!(matches!(store.read(3, &torn), Err(StoreError::NotFound)), "torn bytes are gone");
        // The next append starts a new segment after the recovered one; nothing follows torn bytes.
        let d = store.append(3, HOT, &[Bytes::from_static(b"after restart")]).unwrap();
        assert_eq!((d.segment, d.offset), (b.segment + 1, 0));
        store.sync(&[3]).unwrap();
        assert_eq!(&store.read(3, &d).unwrap()[..], b"after restart");
        // Recovery is idempotent.
        let again = open_files(dir.path(), DEFAULT_SEGMENT_BYTES);
        let mut indexed = indexed;
        indexed.insert(3, hw(d.segment, d.length));
        let report = again.recover(&indexed).unwrap();
        assert_eq!(report.unindexed_streams, vec![5]);
        assert_eq!((report.truncated_segments, report.removed_segments, report.bytes_dropped), (0, 0, 0));
    }

    #[test]
    fn recovery_reports_indexed_bytes_missing_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_files(dir.path(), DEFAULT_SEGMENT_BYTES);
        store.append(1, HOT, &[Bytes::from_static(b"abc")]).unwrap();
        store.sync(&[1]).unwrap();
        let report = store.recover(&HashMap::from([(1, hw(1, 10)), (2, hw(3, 5))])).unwrap();
        assert_eq!(report.short_segments, vec![(1, 1, 10, 3)]);
        assert_eq!(report.bytes_dropped, 0);
        // A segment number the index references is never reused, even when its file is missing.
        let next = store.append(2, HOT, &[Bytes::from_static(b"new")]).unwrap();
        assert_eq!(next.segment, 4);
    }

    #[test]
    fn removes_whole_segments_below_a_bound_and_never_reuses_their_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_files(dir.path(), 4);
        let a = store.append(1, HOT, &[Bytes::from_static(b"aaaa")]).unwrap();
        let b = store.append(1, HOT, &[Bytes::from_static(b"bbbb")]).unwrap();
        let c = store.append(1, HOT, &[Bytes::from_static(b"cc")]).unwrap();
        store.sync(&[1]).unwrap();
        assert_eq!((a.segment, b.segment, c.segment), (1, 2, 3));
        assert_eq!(
            store.remove_segments_below(1, Some(c.segment)).unwrap(),
            Reclaimed { segments: 2, bytes: 8 }
        );
        assert!(matches!(store.read(1, &a), Err(StoreError::NotFound)));
        assert_eq!(&store.read(1, &c).unwrap()[..], b"cc");
        assert_eq!(store.bytes_stored(), 2);
        // Everything, the open segment included: it is closed and the directory goes.
        assert_eq!(store.remove_segments_below(1, None).unwrap(), Reclaimed { segments: 1, bytes: 2 });
        assert!(!dir.path().join("1").exists());
        let d = store.append(1, HOT, &[Bytes::from_static(b"d")]).unwrap();
        assert_eq!(d.segment, 4, "a removed segment's number is not reused");
        assert_eq!(store.stream_ids().unwrap(), vec![1]);
        store.check_writable().unwrap();
        // A deleted stream's directory is not re-created by a late append.
        store.delete_stream(1).unwrap();
        assert!(store.append(1, HOT, &[Bytes::from_static(b"late")]).is_err());
        assert!(store.stream_ids().unwrap().is_empty());
    }

    /// A stream whose tier changes starts a segment in the other directory, numbered after the
    /// last; reads follow each location's tier; numbering, recovery, reclaim and deletion cover
    /// both directories.
    #[test]
    fn tiers_keep_their_own_directories_and_share_the_numbering() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_files(dir.path(), DEFAULT_SEGMENT_BYTES);
        let a = store.append(5, HOT, &[Bytes::from_static(b"hot one")]).unwrap();
        let b = store.append(5, WARM, &[Bytes::from_static(b"warm one")]).unwrap();
        let c = store.append(5, WARM, &[Bytes::from_static(b"warm two")]).unwrap();
        store.sync(&[5]).unwrap();
        assert_eq!((a.segment, a.tier, b.segment, b.tier, c.segment, c.offset), (1, HOT, 2, WARM, 2, 8));
        assert!(dir.path().join("5").join(format!("{:016}.seg", 1)).exists());
        assert!(dir.path().join("warm").join("5").join(format!("{:016}.seg", 2)).exists());
        assert_eq!(&store.read(5, &a).unwrap()[..], b"hot one");
        assert_eq!(&store.read(5, &c).unwrap()[..], b"warm two");
        assert!(matches!(store.read(5, &Location { tier: HOT, ..c }), Err(StoreError::NotFound)));
        assert_eq!(store.stream_ids().unwrap(), vec![5]);
        drop(store);
        // After a restart: the next segment is numbered after the highest of either tier, and a
        // never-committed WARM tail past the high water goes.
        let store = open_files(dir.path(), DEFAULT_SEGMENT_BYTES);
        assert_eq!(store.bytes_stored(), 7 + 16);
        let report = store.recover(&HashMap::from([(5, hw(b.segment, b.length))])).unwrap();
        assert_eq!((report.truncated_segments, report.bytes_dropped), (1, 8));
        let d = store.append(5, HOT, &[Bytes::from_static(b"hot again")]).unwrap();
        store.sync(&[5]).unwrap();
        assert_eq!((d.segment, d.tier), (3, HOT));
        assert_eq!(store.remove_segments_below(5, Some(3)).unwrap(), Reclaimed { segments: 2, bytes: 15 });
        assert!(!dir.path().join("warm").join("5").exists(), "the emptied WARM directory goes");
        assert_eq!(&store.read(5, &d).unwrap()[..], b"hot again");
        let e = store.append(5, WARM, &[Bytes::from_static(b"w")]).unwrap();
        store.sync(&[5]).unwrap();
        assert_eq!(e.segment, 4);
        assert_eq!(store.delete_stream(5).unwrap(), Reclaimed { segments: 2, bytes: 10 });
        assert!(store.stream_ids().unwrap().is_empty());
        assert_eq!(store.bytes_stored(), 0);
    }

    /// A fragment streamed in: written out of order, finished, read back; an abandoned one leaves
    /// nothing; a second writer and a plain append go to new segments; reclaim keeps a segment
    /// that has an open writer.
    #[test]
    fn streamed_fragments_finish_or_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(open_files(dir.path(), DEFAULT_SEGMENT_BYTES));
        let a = store.append(2, HOT, &[Bytes::from_static(b"before")]).unwrap();
        let mut w = store.open_writer(2, HOT).unwrap();
        w.write_at(3, b"def").unwrap();
        w.write_at(6, b"ghi").unwrap();
        w.write_at(0, b"abc").unwrap();
        let b = Box::new(w).finish(9).unwrap();
        assert_eq!((b.segment, b.offset, b.length), (a.segment, a.length, 9));
        store.sync(&[2]).unwrap();
        assert_eq!(&store.read(2, &b).unwrap()[..], b"abcdefghi");
        // Abandoned: the segment is cut back to where it started.
        let mut w = store.open_writer(2, HOT).unwrap();
        w.write_at(0, &[7u8; 5000]).unwrap();
        drop(w);
        let seg = dir.path().join("2").join(format!("{:016}.seg", b.segment));
        assert_eq!(fs::metadata(&seg).unwrap().len(), b.offset + b.length);
        // While one writer is open, another writer and an append take new segments, and reclaim
        // of everything keeps the writer's segment.
        let mut first = store.open_writer(2, HOT).unwrap();
        let mut second = store.open_writer(2, HOT).unwrap();
        let c = store.append(2, HOT, &[Bytes::from_static(b"appended")]).unwrap();
        assert_eq!(store.remove_segments_below(2, Some(c.segment)).unwrap().segments, 0);
        first.write_at(0, b"first").unwrap();
        second.write_at(0, b"second").unwrap();
        let d = Box::new(first).finish(5).unwrap();
        let e = Box::new(second).finish(6).unwrap();
        assert_eq!(d.segment, b.segment);
        assert!(e.segment > d.segment && c.segment > e.segment);
        store.sync(&[2]).unwrap();
        assert_eq!(&store.read(2, &d).unwrap()[..], b"first");
        assert_eq!(&store.read(2, &e).unwrap()[..], b"second");
        assert_eq!(&store.read(2, &c).unwrap()[..], b"appended");
        // A deleted stream takes no writer, and one open at the deletion cannot finish.
        let w = store.open_writer(2, HOT).unwrap();
        store.delete_stream(2).unwrap();
        assert!(Box::new(w).finish(0).is_err());
        assert!(store.open_writer(2, HOT).is_err());
        assert!(!dir.path().join("2").exists());
    }

    #[test]
    fn syncs_many_streams_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_files(dir.path(), DEFAULT_SEGMENT_BYTES);
        let ids: Vec<i64> = (1..=40).collect();
        for &id in &ids {
            store.append(id, HOT, &[Bytes::from(vec![id as u8; 100])]).unwrap();
        }
        store.sync(&ids).unwrap();
        store.sync(&ids).unwrap(); // nothing dirty: a no-op
    }
}
