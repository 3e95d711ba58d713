//! The recorder's local media buffer: a directory of fragment files per stream, bounded in bytes,
//! between the recorder (which appends) and the uploader (which reads, then marks uploaded).
//!
//! Each fragment is one file `<timecode:020>-<header length>-<duration ms>.mkv` holding the stream header and
//! the Cluster: a complete, playable Matroska file (an operator can `ffplay` the buffer). A file
//! whose fragment was uploaded but is kept (`DeleteAfterUpload` false) is renamed to `.sent`. The
//! directory is scanned at open, so the buffer survives a restart of the agent.
//!
//! The bound ([`LocalBuffer::append`]): the sum of the file sizes never exceeds `max_bytes`. When
//! a new fragment does not fit, uploaded-but-kept files go first; then `DELETE_OLDEST_MEDIA`
//! deletes the oldest fragments (uploaded or not) and `DENY_NEW_MEDIA` refuses the new one.
//! `EdgeRetentionInHours` is applied by [`LocalBuffer::expire`].
//!
//! The I/O is plain blocking `std::fs` on small files (one write per fragment, no fsync: the
//! buffer is a queue, not the archive); callers hold the buffer's lock only around one call.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::assembler::EdgeFragment;
use crate::model::FullBufferStrategy;

#[derive(Debug, Clone, Copy)]
struct Entry {
    len: u64,
    header_len: u64,
    duration_ms: u64,
    uploaded: bool,
}

/// What happened to an appended fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// Stored; `evicted` older fragments not yet uploaded were deleted to make room.
    Stored {
        /// Fragments deleted before upload.
        evicted: usize,
    },
    /// Refused: the buffer is full and the strategy is `DENY_NEW_MEDIA` (or the fragment alone
    /// is larger than the buffer).
    Denied,
}

/// A stream's bounded fragment buffer. See the module documentation.
#[derive(Debug)]
pub struct LocalBuffer {
    dir: PathBuf,
    max_bytes: u64,
    strategy: FullBufferStrategy,
    entries: BTreeMap<u64, Entry>,
    total: u64,
}

fn file_name(timecode: u64, e: &Entry) -> String {
    format!("{timecode:020}-{}-{}.{}", e.header_len, e.duration_ms, if e.uploaded { "sent" } else { "mkv" })
}

fn parse_name(name: &str) -> Option<(u64, u64, u64, bool)> {
    let (stem, ext) = name.rsplit_once('.')?;
    let uploaded = match ext {
        "mkv" => false,
        "sent" => true,
        _ => return None,
    };
    let mut parts = stem.split('-');
    let (Some(tc), Some(header), Some(duration), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    Some((tc.parse().ok()?, header.parse().ok()?, duration.parse().ok()?, uploaded))
}

impl LocalBuffer {
    /// Opens (creating) `dir` and takes stock of the fragments already in it.
    pub fn open(dir: &Path, max_bytes: u64, strategy: FullBufferStrategy) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let mut entries = BTreeMap::new();
        let mut total = 0;
        for item in std::fs::read_dir(dir)? {
            let item = item?;
            let name = item.file_name();
            let Some((tc, header_len, duration_ms, uploaded)) = name.to_str().and_then(parse_name) else {
                // A write cut short by a crash leaves a `.part` file: not a fragment.
                let _ = std::fs::remove_file(item.path());
                continue;
            };
            let len = item.metadata()?.len();
            total += len;
            entries.insert(tc, Entry { len, header_len, duration_ms, uploaded });
        }
        let mut buffer = LocalBuffer { dir: dir.to_owned(), max_bytes, strategy, entries, total };
        buffer.shrink_to(max_bytes)?;
        Ok(buffer)
    }

    /// Changes the bound and strategy (a new configuration); shrinks the buffer if needed.
    pub fn set_limits(&mut self, max_bytes: u64, strategy: FullBufferStrategy) -> io::Result<()> {
        self.max_bytes = max_bytes;
        self.strategy = strategy;
        self.shrink_to(max_bytes).map(|_| ())
    }

    fn path(&self, tc: u64, e: &Entry) -> PathBuf {
        self.dir.join(file_name(tc, e))
    }

    fn remove(&mut self, tc: u64) -> io::Result<()> {
        if let Some(e) = self.entries.remove(&tc) {
            self.total -= e.len;
            match std::fs::remove_file(self.path(tc, &e)) {
                Err(err) if err.kind() != io::ErrorKind::NotFound => return Err(err),
                _ => {}
            }
        }
        Ok(())
    }

    /// Deletes oldest fragments (uploaded first) until at most `bytes` are held.
    fn shrink_to(&mut self, bytes: u64) -> io::Result<usize> {
        let mut evicted = 0;
        while self.total > bytes {
            let victim = self.entries.iter().find(|(_, e)| e.uploaded).map(|(tc, _)| *tc);
            let victim = match victim.or_else(|| self.entries.keys().next().copied()) {
                Some(tc) => tc,
                None => break,
            };
            if !self.entries[&victim].uploaded {
                evicted += 1;
            }
            self.remove(victim)?;
        }
        Ok(evicted)
    }

    /// Stores a fragment, keeping the bound (see the module documentation).
    pub fn append(&mut self, fragment: &EdgeFragment) -> io::Result<Appended> {
        let len = fragment.header.len() as u64 + fragment.cluster_len;
        if len > self.max_bytes {
            return Ok(Appended::Denied);
        }
        // Uploaded copies go first whatever the strategy.
        while self.total + len > self.max_bytes {
            let Some(tc) = self.entries.iter().find(|(_, e)| e.uploaded).map(|(tc, _)| *tc) else { break };
            self.remove(tc)?;
        }
        let mut evicted = 0;
        if self.total + len > self.max_bytes {
            match self.strategy {
                FullBufferStrategy::DenyNew => return Ok(Appended::Denied),
                FullBufferStrategy::DeleteOldest => evicted = self.shrink_to(self.max_bytes - len)?,
            }
        }
        let entry = Entry {
            len,
            header_len: fragment.header.len() as u64,
            duration_ms: fragment.duration_ms,
            uploaded: false,
        };
        let path = self.path(fragment.timecode_ms, &entry);
        let part = path.with_extension("part");
        let mut data = Vec::with_capacity(len as usize);
        data.extend_from_slice(&fragment.header);
        for piece in &fragment.cluster {
            data.extend_from_slice(piece);
        }
        std::fs::write(&part, &data)?;
        std::fs::rename(&part, &path)?;
        if let Some(old) = self.entries.insert(fragment.timecode_ms, entry) {
            self.total -= old.len;
        }
        self.total += len;
        Ok(Appended::Stored { evicted })
    }

    /// Timecodes of fragments not yet uploaded, oldest first, after `after`, at most `limit`.
    pub fn pending(&self, after: Option<u64>, limit: usize) -> Vec<u64> {
        let from = after.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
        self.entries
            .range((from, std::ops::Bound::Unbounded))
            .filter(|(_, e)| !e.uploaded)
            .map(|(tc, _)| *tc)
            .take(limit)
            .collect()
    }

    /// A stored fragment's header and Cluster bytes; `None` if it was deleted meanwhile.
    pub fn read(&self, timecode: u64) -> io::Result<Option<(Bytes, Bytes)>> {
        let Some(e) = self.entries.get(&timecode) else { return Ok(None) };
        let data = match std::fs::read(self.path(timecode, e)) {
            Ok(d) => Bytes::from(d),
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(err),
        };
        let split = (e.header_len as usize).min(data.len());
        Ok(Some((data.slice(..split), data.slice(split..))))
    }

    /// The fragment reached the server durably: delete it, or keep it marked as uploaded.
    pub fn mark_uploaded(&mut self, timecode: u64, delete: bool) -> io::Result<()> {
        if delete {
            return self.remove(timecode);
        }
        let Some(e) = self.entries.get(&timecode).copied() else { return Ok(()) };
        if !e.uploaded {
            let from = self.path(timecode, &e);
            let done = Entry { uploaded: true, ..e };
            std::fs::rename(from, self.path(timecode, &done))?;
            self.entries.insert(timecode, done);
        }
        Ok(())
    }

    /// Deletes fragments recorded before `cutoff_ms` (EdgeRetentionInHours); returns how many
    /// of them had not been uploaded.
    pub fn expire(&mut self, cutoff_ms: u64) -> io::Result<usize> {
        let old: Vec<(u64, bool)> =
            self.entries.range(..cutoff_ms).map(|(tc, e)| (*tc, e.uploaded)).collect();
        let mut lost = 0;
        for (tc, uploaded) in old {
            lost += usize::from(!uploaded);
            self.remove(tc)?;
        }
        Ok(lost)
    }

    /// A stored fragment's duration (first to last frame), ms.
    pub fn duration_ms(&self, timecode: u64) -> Option<u64> {
        self.entries.get(&timecode).map(|e| e.duration_ms)
    }

    /// Bytes held.
    pub fn total_bytes(&self) -> u64 {
        self.total
    }

    /// Fragments held (uploaded-but-kept included).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no fragment is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Deletes every fragment and the directory (DeleteEdgeConfiguration).
    pub fn destroy(mut self) -> io::Result<()> {
        let all: Vec<u64> = self.entries.keys().copied().collect();
        for tc in all {
            self.remove(tc)?;
        }
        match std::fs::remove_dir_all(&self.dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frag(tc: u64, len: usize) -> EdgeFragment {
        EdgeFragment {
            header: Bytes::from_static(b"HDR"),
            timecode_ms: tc,
            cluster: vec![Bytes::from(vec![7u8; len - 3])],
            cluster_len: (len - 3) as u64,
            duration_ms: 1000,
            frames: 1,
            starts_on_key_frame: true,
        }
    }

    #[test]
    fn the_bound_holds_with_both_strategies() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = LocalBuffer::open(&dir.path().join("s"), 250, FullBufferStrategy::DeleteOldest).unwrap();
        for tc in 1..=5 {
            b.append(&frag(tc, 100)).unwrap();
            assert!(b.total_bytes() <= 250);
        }
        assert_eq!(b.pending(None, 10), vec![4, 5]);
        let (h, c) = b.read(5).unwrap().unwrap();
        assert_eq!((h.as_ref(), c.len()), (&b"HDR"[..], 97));
        b.set_limits(250, FullBufferStrategy::DenyNew).unwrap();
        assert_eq!(b.append(&frag(6, 100)).unwrap(), Appended::Denied);
        // An uploaded-but-kept fragment makes room even under DENY_NEW_MEDIA.
        b.mark_uploaded(4, false).unwrap();
        assert_eq!(b.pending(None, 10), vec![5]);
        assert_eq!(b.append(&frag(6, 100)).unwrap(), Appended::Stored { evicted: 0 });
        assert_eq!(b.append(&frag(7, 300)).unwrap(), Appended::Denied);
        drop(b);
        // Reopened from disk, smaller.
        let mut b = LocalBuffer::open(&dir.path().join("s"), 150, FullBufferStrategy::DeleteOldest).unwrap();
        assert_eq!(b.pending(None, 10), vec![6]);
        assert_eq!(b.expire(7).unwrap(), 1);
        assert!(b.is_empty());
        b.destroy().unwrap();
        assert!(!dir.path().join("s").exists());
    }
}
