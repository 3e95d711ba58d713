//! The ISO-BMFF box writer: a growable byte buffer that opens boxes, writes big-endian fields and
//! back-patches each box's 32-bit size when it is closed.
//!
//! It knows nothing about which boxes exist or what they contain (that is `moov.rs`,
//! `fragment.rs`, `progressive.rs`, `sample_entry.rs`); it never panics: a box that outgrows the
//! 32-bit size field is remembered and reported by [`BoxWriter::finish`].

use crate::media::codec::CodecError;

/// A byte buffer of nested ISO-BMFF boxes under construction.
#[derive(Debug, Default)]
pub(crate) struct BoxWriter {
    buf: Vec<u8>,
    /// Set when a box was larger than a 32-bit size can say.
    oversized: bool,
}

/// Where an open box starts; give it back to [`BoxWriter::close`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "an opened box must be closed"]
pub(crate) struct OpenBox(usize);

impl OpenBox {
    /// The offset of the box's first byte (its size field) in the writer.
    pub(crate) fn start(self) -> usize {
        self.0
    }
}

impl BoxWriter {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Bytes written so far.
    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    /// Opens a plain box: a size placeholder and the four-character type.
    pub(crate) fn open(&mut self, kind: &[u8; 4]) -> OpenBox {
        let start = self.buf.len();
        self.buf.extend_from_slice(&[0, 0, 0, 0]);
        self.buf.extend_from_slice(kind);
        OpenBox(start)
    }

    /// Opens a full box: a plain box followed by version (8 bits) and flags (24 bits).
    pub(crate) fn open_full(&mut self, kind: &[u8; 4], version: u8, flags: u32) -> OpenBox {
        let open = self.open(kind);
        self.u32((u32::from(version) << 24) | (flags & 0x00ff_ffff));
        open
    }

    /// Closes a box: writes its final size over the placeholder.
    pub(crate) fn close(&mut self, open: OpenBox) {
        let size = self.buf.len().saturating_sub(open.0);
        let size = match u32::try_from(size) {
            Ok(size) => size,
            Err(_) => {
                self.oversized = true;
                0
            }
        };
        self.patch_u32(open.0, size);
    }

    /// Overwrites four bytes at `at` (a position obtained earlier from [`Self::len`]); out of range
    /// positions are ignored.
    pub(crate) fn patch_u32(&mut self, at: usize, value: u32) {
        if let Some(slot) = self.buf.get_mut(at..at.saturating_add(4)) {
            slot.copy_from_slice(&value.to_be_bytes());
        }
    }

    pub(crate) fn u8(&mut self, value: u8) {
        self.buf.push(value);
    }

    pub(crate) fn u16(&mut self, value: u16) {
        self.buf.extend_from_slice(&value.to_be_bytes());
    }

    pub(crate) fn u24(&mut self, value: u32) {
        self.buf.extend_from_slice(&value.to_be_bytes()[1..]);
    }

    pub(crate) fn u32(&mut self, value: u32) {
        self.buf.extend_from_slice(&value.to_be_bytes());
    }

    pub(crate) fn i32(&mut self, value: i32) {
        self.buf.extend_from_slice(&value.to_be_bytes());
    }

    pub(crate) fn u64(&mut self, value: u64) {
        self.buf.extend_from_slice(&value.to_be_bytes());
    }

    pub(crate) fn i64(&mut self, value: i64) {
        self.buf.extend_from_slice(&value.to_be_bytes());
    }

    pub(crate) fn bytes(&mut self, value: &[u8]) {
        self.buf.extend_from_slice(value);
    }

    pub(crate) fn zeros(&mut self, count: usize) {
        self.buf.resize(self.buf.len() + count, 0);
    }

    /// The finished bytes, or an error if some box was too large for its 32-bit size.
    pub(crate) fn finish(self) -> Result<Vec<u8>, CodecError> {
        if self.oversized {
            return Err(CodecError::Unsupported("an MP4 box larger than 4 GiB".into()));
        }
        Ok(self.buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_boxes_get_their_sizes() {
        let mut w = BoxWriter::new();
        let outer = w.open(b"moov");
        let inner = w.open_full(b"mvhd", 1, 0x20001);
        w.u16(7);
        w.close(inner);
        w.close(outer);
        let out = w.finish().unwrap();
        assert_eq!(
            out,
            [0, 0, 0, 22, b'm', b'o', b'o', b'v', 0, 0, 0, 14, b'm', b'v', b'h', b'd', 1, 2, 0, 1, 0, 7]
        );
    }
}
