//! The Matroska demuxing error: what is wrong, at which absolute byte offset, and where in the
//! element tree (`Segment/Cluster/SimpleBlock`), so one log line leads to the bad byte.
//!
//! Owns the error types only. It must not decide policy (which errors are fatal for a PutMedia
//! session is `super::super::fragment`'s business) and must not allocate until displayed.

use super::ids;
use crate::media::ebml::{EbmlError, EbmlErrorKind};

/// Deepest path kept in an error; deeper elements are shown as `…/Name`.
const PATH_CAP: usize = 8;

/// The chain of element IDs from the top level down to the offending element.
///
/// Fixed-size and `Copy`: building one costs nothing on the hot path.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct ElementPath {
    ids: [u32; PATH_CAP],
    len: u8,
    /// Number of outer elements dropped because the path was deeper than its capacity.
    dropped: u8,
}

impl ElementPath {
    /// The empty path (top level).
    pub const fn root() -> Self {
        ElementPath { ids: [0; PATH_CAP], len: 0, dropped: 0 }
    }

    /// This path extended by `id`.
    #[must_use]
    pub fn child(mut self, id: u32) -> Self {
        let len = usize::from(self.len);
        if len < PATH_CAP {
            if let Some(slot) = self.ids.get_mut(len) {
                *slot = id;
            }
            self.len = self.len.saturating_add(1);
        } else {
            self.ids.rotate_left(1);
            if let Some(last) = self.ids.last_mut() {
                *last = id;
            }
            self.dropped = self.dropped.saturating_add(1);
        }
        self
    }

    /// The IDs from the outermost kept element to the innermost.
    pub fn ids(&self) -> &[u32] {
        self.ids.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// The innermost element's ID, if any.
    pub fn last(&self) -> Option<u32> {
        self.ids().last().copied()
    }
}

impl std::fmt::Display for ElementPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.len == 0 {
            return f.write_str("(top level)");
        }
        if self.dropped > 0 {
            f.write_str("…/")?;
        }
        for (i, &id) in self.ids().iter().enumerate() {
            if i > 0 {
                f.write_str("/")?;
            }
            match ids::name(id) {
                "Unknown" => write!(f, "0x{id:X}")?,
                name => f.write_str(name)?,
            }
        }
        Ok(())
    }
}

impl std::fmt::Debug for ElementPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// What is wrong with the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MkvErrorKind {
    /// EBML syntax error (bad vint, child overrunning its parent, bad scalar size).
    Ebml(EbmlErrorKind),
    /// The input does not start with an EBML header element.
    NotEbml,
    /// An element that is not allowed where it appears (including unknown IDs where they cannot be
    /// skipped: at top level, or inside an unknown-size Segment or Cluster).
    UnexpectedElement,
    /// An element that must have a known size declares the unknown size.
    UnknownSize,
    /// An element declares more data than the configured limit for its kind.
    TooLarge {
        /// Declared data size.
        size: u64,
        /// The configured limit.
        limit: u64,
    },
    /// An element declares more data than its known-size parent has left.
    OverrunsParent,
    /// Nested elements deeper than the configured limit.
    NestingTooDeep,
    /// More entries than the configured limit (tracks in Tracks, SimpleTags in Tags).
    TooManyEntries {
        /// The configured limit.
        limit: usize,
    },
    /// A syntactically valid element with an invalid or inconsistent value.
    Invalid(&'static str),
    /// The input ended inside an element (or inside a known-size Segment or Cluster).
    Truncated,
}

impl std::fmt::Display for MkvErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MkvErrorKind::Ebml(e) => write!(f, "EBML syntax error: {e}"),
            MkvErrorKind::NotEbml => f.write_str("input does not start with an EBML header"),
            MkvErrorKind::UnexpectedElement => f.write_str("element not allowed here"),
            MkvErrorKind::UnknownSize => f.write_str("unknown size not allowed for this element"),
            MkvErrorKind::TooLarge { size, limit } => {
                write!(f, "element data size {size} exceeds the limit of {limit} bytes")
            }
            MkvErrorKind::OverrunsParent => f.write_str("element overruns its parent"),
            MkvErrorKind::NestingTooDeep => f.write_str("elements nested too deeply"),
            MkvErrorKind::TooManyEntries { limit } => write!(f, "more than {limit} entries"),
            MkvErrorKind::Invalid(why) => f.write_str(why),
            MkvErrorKind::Truncated => f.write_str("input ended inside this element"),
        }
    }
}

/// A fatal demuxing error, located by absolute input offset and element path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MkvError {
    /// What is wrong.
    pub kind: MkvErrorKind,
    /// Absolute byte offset in the input of the offending element (its first ID byte).
    pub offset: u64,
    /// Where in the element tree, innermost last.
    pub path: ElementPath,
}

impl MkvError {
    /// Builds an error.
    pub fn new(kind: MkvErrorKind, offset: u64, path: ElementPath) -> Self {
        MkvError { kind, offset, path }
    }

    /// Wraps an EBML syntax error found inside the element at `parent` (the offending child's
    /// ID, when known, is appended to the path).
    pub fn from_ebml(e: EbmlError, parent: ElementPath) -> Self {
        let path = if e.id != 0 { parent.child(e.id) } else { parent };
        MkvError::new(MkvErrorKind::Ebml(e.kind), e.offset, path)
    }
}

impl std::fmt::Display for MkvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid MKV at byte {} in {}: {}", self.offset, self.path, self.kind)
    }
}

impl std::error::Error for MkvError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_display() {
        let p = ElementPath::root().child(ids::SEGMENT).child(ids::CLUSTER).child(ids::SIMPLE_BLOCK);
        assert_eq!(p.to_string(), "Segment/Cluster/SimpleBlock");
        let e = MkvError::new(MkvErrorKind::Truncated, 42, p);
        assert_eq!(
            e.to_string(),
            "invalid MKV at byte 42 in Segment/Cluster/SimpleBlock: input ended inside this element"
        );
        let mut deep = ElementPath::root();
        for _ in 0..10 {
            deep = deep.child(ids::SIMPLE_TAG);
        }
        deep = deep.child(0x4321);
        assert!(deep.to_string().starts_with("…/SimpleTag/"));
        assert!(deep.to_string().ends_with("/0x4321"));
        assert_eq!(deep.last(), Some(0x4321));
    }
}
