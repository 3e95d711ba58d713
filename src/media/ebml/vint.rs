//! EBML variable-length integers: element IDs, element data sizes (including the "unknown size"
//! marker) and the signed form used by EBML lacing, read from and written to byte slices.
//!
//! Owns only the bit-level encoding (RFC 8794 §4). It must not know element semantics, buffer
//! input, or allocate: readers take a slice and report "not enough bytes yet" as `Ok(None)`;
//! writers append to a [`bytes::BufMut`].

use bytes::BufMut;

/// Longest element ID this crate accepts (Matroska `EBMLMaxIDLength` = 4).
pub const MAX_ID_LEN: usize = 4;

/// Longest data-size vint this crate accepts (Matroska `EBMLMaxSizeLength` = 8).
pub const MAX_SIZE_LEN: usize = 8;

/// Largest value a data size can have: 8-byte vint with all value bits set except the
/// all-ones pattern, which means "unknown size".
pub const MAX_KNOWN_SIZE: u64 = (1u64 << 56) - 2;

/// A violation of the vint encoding rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VintError {
    /// The first byte is zero: the length marker lies beyond the 8th byte.
    NoLengthMarker,
    /// An element ID is longer than [`MAX_ID_LEN`] bytes.
    IdTooLong,
    /// An element ID whose value bits are all zeros or all ones (reserved by RFC 8794 §5).
    ReservedId,
    /// A vint whose value bits are all ones where a concrete number is required
    /// (a block's track number or a lace size).
    UnexpectedUnknown,
}

impl std::fmt::Display for VintError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            VintError::NoLengthMarker => "vint without a length marker in its first byte",
            VintError::IdTooLong => "element ID longer than 4 bytes",
            VintError::ReservedId => "reserved element ID (all value bits zero or one)",
            VintError::UnexpectedUnknown => "all-ones vint where a number is required",
        })
    }
}

impl std::error::Error for VintError {}

/// The data size of an element as declared in its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElementSize {
    /// A concrete byte count of the element's data.
    Known(u64),
    /// All value bits set: the element extends until an element that cannot be its child.
    Unknown,
}

impl ElementSize {
    /// The byte count if known.
    pub fn known(self) -> Option<u64> {
        match self {
            ElementSize::Known(n) => Some(n),
            ElementSize::Unknown => None,
        }
    }
}

/// Length in bytes (1..=8) of a vint starting with `first`, or `None` if `first` is zero.
#[inline]
pub fn vint_len(first: u8) -> Option<usize> {
    if first == 0 { None } else { Some(first.leading_zeros() as usize + 1) }
}

/// Reads an element ID (marker bits kept, as IDs are conventionally written: `0x1A45DFA3`).
///
/// Returns `Ok(None)` if `buf` holds fewer bytes than the ID needs, else the ID and its length.
#[inline]
pub fn read_id(buf: &[u8]) -> Result<Option<(u32, usize)>, VintError> {
    let Some(&first) = buf.first() else { return Ok(None) };
    let len = vint_len(first).ok_or(VintError::NoLengthMarker)?;
    if len > MAX_ID_LEN {
        return Err(VintError::IdTooLong);
    }
    let Some(bytes) = buf.get(..len) else { return Ok(None) };
    let mut id: u32 = 0;
    for &b in bytes {
        id = (id << 8) | u32::from(b);
    }
    // Value bits: everything below the marker bit.
    let value_bits = 7 * len as u32;
    let mask = (1u32 << value_bits) - 1;
    let value = id & mask;
    if value == 0 || value == mask {
        return Err(VintError::ReservedId);
    }
    Ok(Some((id, len)))
}

/// Reads a data size. All value bits set (for any length) is [`ElementSize::Unknown`].
///
/// Returns `Ok(None)` if `buf` holds fewer bytes than the vint needs.
#[inline]
pub fn read_size(buf: &[u8]) -> Result<Option<(ElementSize, usize)>, VintError> {
    let Some((value, len)) = read_raw(buf)? else { return Ok(None) };
    let all_ones = (1u64 << (7 * len)) - 1;
    let size = if value == all_ones { ElementSize::Unknown } else { ElementSize::Known(value) };
    Ok(Some((size, len)))
}

/// Reads an unsigned vint that must be a concrete number (block track numbers, lace sizes).
#[inline]
pub fn read_unsigned(buf: &[u8]) -> Result<Option<(u64, usize)>, VintError> {
    match read_size(buf)? {
        None => Ok(None),
        Some((ElementSize::Known(v), len)) => Ok(Some((v, len))),
        Some((ElementSize::Unknown, _)) => Err(VintError::UnexpectedUnknown),
    }
}

/// Reads a signed vint as used by EBML lacing: the unsigned value minus `2^(7*len-1) - 1`.
#[inline]
pub fn read_signed(buf: &[u8]) -> Result<Option<(i64, usize)>, VintError> {
    let Some((value, len)) = read_raw(buf)? else { return Ok(None) };
    let bias = (1i64 << (7 * len - 1)) - 1;
    // `value` < 2^56, so it fits an i64 and the subtraction cannot overflow.
    Ok(Some((value as i64 - bias, len)))
}

/// The value bits of a vint (marker removed) and its length.
#[inline]
fn read_raw(buf: &[u8]) -> Result<Option<(u64, usize)>, VintError> {
    let Some(&first) = buf.first() else { return Ok(None) };
    let len = vint_len(first).ok_or(VintError::NoLengthMarker)?;
    let Some(bytes) = buf.get(..len) else { return Ok(None) };
    let mut value: u64 = 0;
    for &b in bytes {
        value = (value << 8) | u64::from(b);
    }
    let mask = (1u64 << (7 * len)) - 1;
    Ok(Some((value & mask, len)))
}

/// Number of bytes of an element ID (its marker bit tells), 1..=4.
pub fn id_len(id: u32) -> usize {
    match id {
        0..=0xFF => 1,
        0x100..=0xFFFF => 2,
        0x1_0000..=0xFF_FFFF => 3,
        _ => 4,
    }
}

/// Appends an element ID (marker bits included in `id`) in its natural width.
pub fn write_id<B: BufMut>(out: &mut B, id: u32) {
    let len = id_len(id);
    let bytes = id.to_be_bytes();
    out.put_slice(bytes.get(4 - len..).unwrap_or(&bytes));
}

/// Smallest vint width (1..=8) that can carry `value` as a known size. The all-ones pattern of a
/// width is reserved for "unknown", so e.g. 127 needs two bytes.
pub fn size_len(value: u64) -> usize {
    let mut len = 1;
    while len < MAX_SIZE_LEN && value >= (1u64 << (7 * len)) - 1 {
        len += 1;
    }
    len
}

/// Appends a known data size using exactly `len` bytes (1..=8; clamped), or the minimal width if
/// `len` is too small for `value`. Values above [`MAX_KNOWN_SIZE`] are clamped to it.
pub fn write_size_with_len<B: BufMut>(out: &mut B, value: u64, len: usize) {
    let value = value.min(MAX_KNOWN_SIZE);
    let len = len.clamp(size_len(value), MAX_SIZE_LEN);
    let marked = value | (1u64 << (7 * len));
    let bytes = marked.to_be_bytes();
    out.put_slice(bytes.get(8 - len..).unwrap_or(&bytes));
}

/// Appends a known data size in its minimal width.
pub fn write_size<B: BufMut>(out: &mut B, value: u64) {
    write_size_with_len(out, value, 1);
}

/// Appends the 8-byte form of a known data size (what the KVS producer writes for blocks).
pub fn write_size_8<B: BufMut>(out: &mut B, value: u64) {
    write_size_with_len(out, value, MAX_SIZE_LEN);
}

/// Appends the "unknown size" marker in `len` bytes (1..=8; clamped): all value bits set.
pub fn write_unknown_size<B: BufMut>(out: &mut B, len: usize) {
    let len = len.clamp(1, MAX_SIZE_LEN);
    // Marker bit plus all value bits set: the first byte is 0xFF >> (len - 1), the rest 0xFF.
    out.put_u8(0xFF >> (len - 1));
    out.put_bytes(0xFF, len - 1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert_eq!(read_id(&[0x1A, 0x45, 0xDF, 0xA3, 0]).unwrap(), Some((0x1A45_DFA3, 4)));
        assert_eq!(read_id(&[0xA3]).unwrap(), Some((0xA3, 1)));
        assert_eq!(read_id(&[0x1A, 0x45]).unwrap(), None);
        assert_eq!(read_id(&[]).unwrap(), None);
        assert_eq!(read_id(&[0x08, 0, 0, 0, 1]), Err(VintError::IdTooLong));
        assert_eq!(read_id(&[0x00]), Err(VintError::NoLengthMarker));
        assert_eq!(read_id(&[0xFF]), Err(VintError::ReservedId));
        assert_eq!(read_id(&[0x80]), Err(VintError::ReservedId));
        assert_eq!(read_id(&[0x7F, 0xFF]), Err(VintError::ReservedId));
    }

    #[test]
    fn sizes() {
        assert_eq!(read_size(&[0x81]).unwrap(), Some((ElementSize::Known(1), 1)));
        assert_eq!(read_size(&[0xFF]).unwrap(), Some((ElementSize::Unknown, 1)));
        assert_eq!(
            read_size(&[0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]).unwrap(),
            Some((ElementSize::Unknown, 8))
        );
        assert_eq!(
            read_size(&[0x01, 0, 0, 0, 0, 0, 0x10, 0x00]).unwrap(),
            Some((ElementSize::Known(4096), 8))
        );
        assert_eq!(read_size(&[0x40]).unwrap(), None);
        assert_eq!(read_size(&[0x00]), Err(VintError::NoLengthMarker));
    }

    #[test]
    fn signed() {
        // 1-byte: bias 63.
        assert_eq!(read_signed(&[0x80 | 63]).unwrap(), Some((0, 1)));
        assert_eq!(read_signed(&[0x80]).unwrap(), Some((-63, 1)));
        // 2-byte: bias 8191.
        assert_eq!(read_signed(&[0x40 | 0x20, 0x00]).unwrap(), Some((1, 2)));
    }

    #[test]
    fn write_roundtrip() {
        for v in [0u64, 1, 126, 127, 128, 16382, 16383, 1 << 20, MAX_KNOWN_SIZE] {
            let mut out = Vec::new();
            write_size(&mut out, v);
            assert_eq!(out.len(), size_len(v));
            assert_eq!(read_size(&out).unwrap(), Some((ElementSize::Known(v), out.len())), "{v}");
            let mut out8 = Vec::new();
            write_size_8(&mut out8, v);
            assert_eq!(read_size(&out8).unwrap(), Some((ElementSize::Known(v), 8)));
        }
        for len in 1..=8 {
            let mut out = Vec::new();
            write_unknown_size(&mut out, len);
            assert_eq!(out.len(), len);
            assert_eq!(read_size(&out).unwrap(), Some((ElementSize::Unknown, len)));
        }
        for id in [0xA3u32, 0x4286, 0x2AD7B1, 0x1A45DFA3] {
            let mut out = Vec::new();
            write_id(&mut out, id);
            assert_eq!(read_id(&out).unwrap(), Some((id, id_len(id))));
        }
    }
}
