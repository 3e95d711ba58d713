//! Reading EBML from bytes that are already in memory: "is a whole element header here?"
//! ([`parse_header`], where [`Parse::Incomplete`] is a normal outcome, not an error), iteration
//! over the children of a fully buffered master element ([`Children`]), and the scalar element
//! types (unsigned/signed integers, floats, strings).
//!
//! Owns the syntax only. It must not buffer input, know Matroska element meanings, allocate
//! anything sized by a declared length, or copy payloads: children are handed out as sub-slices of
//! the caller's buffer (the caller turns them into zero-copy `Bytes` with `Bytes::slice_ref`).

use super::vint::{self, ElementSize, VintError};

/// Result of looking at a buffer that may not yet hold everything needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parse<T> {
    /// More bytes are needed before anything can be decided; nothing was consumed.
    Incomplete,
    /// The item is complete.
    Complete(T),
}

/// An element's ID and declared data size, as read from the start of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElementHeader {
    /// Element ID with its marker bits (e.g. `0x1F43B675` for Cluster).
    pub id: u32,
    /// Declared data size.
    pub size: ElementSize,
    /// Bytes taken by the ID and the size vint together (2..=12).
    pub header_len: usize,
}

impl ElementHeader {
    /// Header plus data length, if the size is known (cannot overflow: sizes are below 2^56).
    pub fn total_len(&self) -> Option<u64> {
        self.size.known().map(|s| s + self.header_len as u64)
    }
}

/// What is wrong with a piece of EBML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EbmlErrorKind {
    /// A malformed ID or size vint.
    Vint(VintError),
    /// A child element declares more data than its parent has left.
    ChildOverrunsParent,
    /// A child of a buffered master declares an unknown size (only Segment and Cluster may).
    UnknownSizeChild,
    /// An unsigned or signed integer element longer than 8 bytes.
    IntegerTooLong,
    /// A float element whose size is not 0, 4 or 8.
    BadFloatSize,
}

impl std::fmt::Display for EbmlErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EbmlErrorKind::Vint(e) => e.fmt(f),
            EbmlErrorKind::ChildOverrunsParent => f.write_str("child element overruns its parent"),
            EbmlErrorKind::UnknownSizeChild => f.write_str("unknown size not allowed for this element"),
            EbmlErrorKind::IntegerTooLong => f.write_str("integer element longer than 8 bytes"),
            EbmlErrorKind::BadFloatSize => f.write_str("float element size is not 0, 4 or 8"),
        }
    }
}

/// An EBML syntax error at an absolute byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EbmlError {
    /// What is wrong.
    pub kind: EbmlErrorKind,
    /// Absolute offset of the offending element (or byte) in the input.
    pub offset: u64,
    /// ID of the offending element when it is known (0 otherwise).
    pub id: u32,
}

impl std::fmt::Display for EbmlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at byte {}", self.kind, self.offset)
    }
}

impl std::error::Error for EbmlError {}

/// Checks whether `buf` starts with a complete element header (ID + size) and decodes it.
///
/// Looks at no more than 12 bytes, consumes nothing. `offset` is the absolute position of
/// `buf[0]`, used only for errors.
#[inline]
pub fn parse_header(buf: &[u8], offset: u64) -> Result<Parse<ElementHeader>, EbmlError> {
    let err = |kind| EbmlError { kind, offset, id: 0 };
    let (id, id_len) = match vint::read_id(buf) {
        Ok(Some(x)) => x,
        Ok(None) => return Ok(Parse::Incomplete),
        Err(e) => return Err(err(EbmlErrorKind::Vint(e))),
    };
    let rest = buf.get(id_len..).unwrap_or(&[]);
    let (size, size_len) = match vint::read_size(rest) {
        Ok(Some(x)) => x,
        Ok(None) => return Ok(Parse::Incomplete),
        Err(e) => return Err(EbmlError { kind: EbmlErrorKind::Vint(e), offset, id }),
    };
    Ok(Parse::Complete(ElementHeader { id, size, header_len: id_len + size_len }))
}

/// One child of a buffered master element.
#[derive(Debug, Clone, Copy)]
pub struct Child<'a> {
    /// Element ID.
    pub id: u32,
    /// Absolute offset of the child's first byte.
    pub offset: u64,
    /// Absolute offset of the child's data (after its ID and size).
    pub data_offset: u64,
    /// The child's data (without ID and size).
    pub data: &'a [u8],
    /// The whole child, header included.
    pub raw: &'a [u8],
}

/// Iterates over the children of a master element whose data is entirely in memory.
///
/// Yields an error (then stops) on a malformed header, a child of unknown size, or a child that
/// overruns the parent's data.
#[derive(Debug, Clone)]
pub struct Children<'a> {
    data: &'a [u8],
    pos: usize,
    base: u64,
    failed: bool,
}

impl<'a> Children<'a> {
    /// Iterates over `data`, the payload of a master element starting at absolute offset `base`.
    pub fn new(data: &'a [u8], base: u64) -> Self {
        Children { data, pos: 0, base, failed: false }
    }
}

impl<'a> Iterator for Children<'a> {
    type Item = Result<Child<'a>, EbmlError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let rest = self.data.get(self.pos..)?;
        if rest.is_empty() {
            return None;
        }
        let offset = self.base.saturating_add(self.pos as u64);
        let fail = |this: &mut Self, kind, id| {
            this.failed = true;
            Some(Err(EbmlError { kind, offset, id }))
        };
        let header = match parse_header(rest, offset) {
            Ok(Parse::Complete(h)) => h,
            Ok(Parse::Incomplete) => return fail(self, EbmlErrorKind::ChildOverrunsParent, 0),
            Err(e) => {
                self.failed = true;
                return Some(Err(e));
            }
        };
        let Some(size) = header.size.known() else {
            return fail(self, EbmlErrorKind::UnknownSizeChild, header.id);
        };
        let total = match usize::try_from(size).ok().and_then(|s| s.checked_add(header.header_len)) {
            Some(t) if t <= rest.len() => t,
            _ => return fail(self, EbmlErrorKind::ChildOverrunsParent, header.id),
        };
        let raw = rest.get(..total)?;
        let data = raw.get(header.header_len..)?;
        self.pos += total;
        let data_offset = offset.saturating_add(header.header_len as u64);
        Some(Ok(Child { id: header.id, offset, data_offset, data, raw }))
    }
}

/// Decodes an unsigned integer element (0..=8 bytes, big-endian; empty means 0).
pub fn read_uint(data: &[u8]) -> Result<u64, EbmlErrorKind> {
    if data.len() > 8 {
        return Err(EbmlErrorKind::IntegerTooLong);
    }
    Ok(data.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
}

/// Decodes a signed integer element (0..=8 bytes, big-endian two's complement).
pub fn read_int(data: &[u8]) -> Result<i64, EbmlErrorKind> {
    let unsigned = read_uint(data)?;
    if data.is_empty() || data.len() == 8 {
        return Ok(unsigned as i64);
    }
    let shift = 64 - 8 * data.len() as u32;
    Ok(((unsigned << shift) as i64) >> shift)
}

/// Decodes a float element (0, 4 or 8 bytes; empty means 0.0).
pub fn read_float(data: &[u8]) -> Result<f64, EbmlErrorKind> {
    match data.len() {
        0 => Ok(0.0),
        4 => {
            let mut b = [0u8; 4];
            b.copy_from_slice(data);
            Ok(f64::from(f32::from_be_bytes(b)))
        }
        8 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(data);
            Ok(f64::from_be_bytes(b))
        }
        _ => Err(EbmlErrorKind::BadFloatSize),
    }
}

/// Decodes a String/UTF-8 element: stops at the first NUL (EBML allows NUL padding) and replaces
/// invalid UTF-8 rather than failing, since names and tags are informational.
pub fn read_string(data: &[u8]) -> String {
    let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    String::from_utf8_lossy(data.get(..end).unwrap_or(data)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_incomplete_is_normal() {
        let full = [0x1F, 0x43, 0xB6, 0x75, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
        for n in 0..full.len() {
            assert_eq!(parse_header(&full[..n], 0).unwrap(), Parse::Incomplete, "{n}");
        }
        let h = match parse_header(&full, 0).unwrap() {
            Parse::Complete(h) => h,
            Parse::Incomplete => panic!(),
        };
        assert_eq!(h, ElementHeader { id: 0x1F43_B675, size: ElementSize::Unknown, header_len: 12 });
        assert_eq!(h.total_len(), None);
    }

    #[test]
    fn children_and_scalars() {
        // TimecodeScale(3 bytes) + DocType "ab\0"
        let data = [0x2A, 0xD7, 0xB1, 0x83, 0x0F, 0x42, 0x40, 0x42, 0x82, 0x83, b'a', b'b', 0];
        let kids: Vec<_> = Children::new(&data, 100).collect::<Result<_, _>>().unwrap();
        assert_eq!(kids.len(), 2);
        assert_eq!(kids[0].id, 0x2AD7B1);
        assert_eq!(read_uint(kids[0].data).unwrap(), 1_000_000);
        assert_eq!(kids[1].offset, 107);
        assert_eq!(read_string(kids[1].data), "ab");
        // Overrun.
        let bad = [0x42, 0x82, 0x85, b'a'];
        let r: Vec<_> = Children::new(&bad, 0).collect();
        assert_eq!(r.len(), 1);
        assert!(r[0].is_err());
        assert_eq!(read_int(&[0xFF, 0xFE]).unwrap(), -2);
        assert_eq!(read_int(&[0x7F]).unwrap(), 127);
        assert_eq!(read_float(&[0x47, 0x3B, 0x80, 0x00]).unwrap(), 48000.0);
        assert!(read_uint(&[0; 9]).is_err());
    }
}
