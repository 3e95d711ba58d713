//! Writing EBML elements into a growing in-memory buffer: IDs, sizes (minimal or the fixed 8-byte
//! form), unsigned/signed integers, floats, strings, binaries, and master elements of known size
//! (patched when closed) or unknown size. The server uses it to re-emit complete Matroska
//! documents (known-size Clusters, Tags with fragment numbers) and tests use it to craft bodies.
//!
//! Owns encoding only. It must not parse, do I/O, or know Matroska semantics beyond element IDs
//! passed in by the caller.

use bytes::{BufMut, Bytes, BytesMut};

use super::vint;

/// How the data size of leaf elements is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SizeForm {
    /// The shortest legal width.
    #[default]
    Minimal,
    /// Always 8 bytes, as the KVS producer writes them.
    Eight,
}

/// Position of an open known-size master element, returned by [`EbmlWriter::start_master`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a master element must be closed with EbmlWriter::end_master"]
pub struct MasterMark {
    /// Offset of the 8-byte size field inside the writer's buffer.
    size_at: usize,
}

/// An append-only EBML encoder.
#[derive(Debug, Default, Clone)]
pub struct EbmlWriter {
    buf: BytesMut,
    form: SizeForm,
}

impl EbmlWriter {
    /// An empty writer using minimal sizes for leaf elements.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty writer using `form` for leaf element sizes.
    pub fn with_size_form(form: SizeForm) -> Self {
        EbmlWriter { buf: BytesMut::new(), form }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The bytes written so far, for inspection.
    pub fn as_slice(&self) -> &[u8] {
        &self.buf
    }

    /// Ends writing and returns the bytes.
    pub fn finish(self) -> Bytes {
        self.buf.freeze()
    }

    fn header(&mut self, id: u32, len: u64) {
        vint::write_id(&mut self.buf, id);
        match self.form {
            SizeForm::Minimal => vint::write_size(&mut self.buf, len),
            SizeForm::Eight => vint::write_size_8(&mut self.buf, len),
        }
    }

    /// Appends bytes verbatim (e.g. a previously captured raw element).
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.put_slice(bytes);
        self
    }

    /// Appends an element header with an explicit size (the data must follow via [`Self::raw`]).
    pub fn element_header(&mut self, id: u32, data_len: u64) -> &mut Self {
        self.header(id, data_len);
        self
    }

    /// Appends an element header with the "unknown size" marker in `size_len` bytes (1..=8).
    pub fn unknown_size_header(&mut self, id: u32, size_len: usize) -> &mut Self {
        vint::write_id(&mut self.buf, id);
        vint::write_unknown_size(&mut self.buf, size_len);
        self
    }

    /// Appends an unsigned integer element in its shortest big-endian form (0 is written as one
    /// zero byte).
    pub fn uint(&mut self, id: u32, value: u64) -> &mut Self {
        let bytes = value.to_be_bytes();
        let skip = (value.leading_zeros() / 8).min(7) as usize;
        let data = bytes.get(skip..).unwrap_or(&bytes);
        self.header(id, data.len() as u64);
        self.buf.put_slice(data);
        self
    }

    /// Appends an unsigned integer element with exactly 8 data bytes (KVS writes Timecode so).
    pub fn uint8(&mut self, id: u32, value: u64) -> &mut Self {
        self.header(id, 8);
        self.buf.put_u64(value);
        self
    }

    /// Appends a signed integer element (8 bytes, two's complement).
    pub fn int(&mut self, id: u32, value: i64) -> &mut Self {
        self.header(id, 8);
        self.buf.put_i64(value);
        self
    }

    /// Appends an 8-byte float element.
    pub fn float(&mut self, id: u32, value: f64) -> &mut Self {
        self.header(id, 8);
        self.buf.put_f64(value);
        self
    }

    /// Appends a String/UTF-8 element.
    pub fn string(&mut self, id: u32, value: &str) -> &mut Self {
        self.binary(id, value.as_bytes())
    }

    /// Appends a binary element.
    pub fn binary(&mut self, id: u32, value: &[u8]) -> &mut Self {
        self.header(id, value.len() as u64);
        self.buf.put_slice(value);
        self
    }

    /// Opens a master element of known size: writes the ID and an 8-byte size placeholder that
    /// [`Self::end_master`] fills in.
    pub fn start_master(&mut self, id: u32) -> MasterMark {
        vint::write_id(&mut self.buf, id);
        let size_at = self.buf.len();
        vint::write_size_8(&mut self.buf, 0);
        MasterMark { size_at }
    }

    /// Closes a master element opened with [`Self::start_master`]: its size becomes everything
    /// written since. A mark from another writer is ignored.
    pub fn end_master(&mut self, mark: MasterMark) -> &mut Self {
        let data_start = mark.size_at.saturating_add(8);
        if let Some(data_len) = self.buf.len().checked_sub(data_start) {
            let mut size = [0u8; 8];
            let mut slot = &mut size[..];
            vint::write_size_8(&mut slot, data_len as u64);
            if let Some(dst) = self.buf.get_mut(mark.size_at..data_start) {
                dst.copy_from_slice(&size);
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::ebml::reader::{Children, read_string, read_uint};

    #[test]
    fn master_roundtrip() {
        let mut w = EbmlWriter::new();
        let m = w.start_master(0x1A45_DFA3);
        w.uint(0x4286, 1).string(0x4282, "matroska").uint(0x42F2, 0);
        w.end_master(m);
        let out = w.finish();
        let top: Vec<_> = Children::new(&out, 0).collect::<Result<_, _>>().unwrap();
        assert_eq!(top.len(), 1);
        assert_eq!(top[0].id, 0x1A45_DFA3);
        let kids: Vec<_> = Children::new(top[0].data, 12).collect::<Result<_, _>>().unwrap();
        assert_eq!(kids.len(), 3);
        assert_eq!(read_uint(kids[0].data).unwrap(), 1);
        assert_eq!(read_string(kids[1].data), "matroska");
        assert_eq!(kids[2].data, &[0]);
    }

    #[test]
    fn eight_byte_form() {
        let mut w = EbmlWriter::with_size_form(SizeForm::Eight);
        w.binary(0xA3, &[1, 2, 3]);
        assert_eq!(w.as_slice(), &[0xA3, 0x01, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3]);
        let mut w = EbmlWriter::new();
        w.unknown_size_header(0x1853_8067, 1);
        assert_eq!(w.as_slice(), &[0x18, 0x53, 0x80, 0x67, 0xFF]);
    }
}
