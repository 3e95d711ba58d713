//! Matroska `Tags` as KVS uses them: parsing a fully buffered Tags element into [`SimpleTag`]s
//! (TagName / TagString / TagBinary, nested SimpleTags, whether the enclosing Tag targets a
//! specific track/edition/chapter/attachment) and building KVS-style Tags elements (fragment
//! metadata, the `AWS_KINESISVIDEO_*` tags the server adds to GetMedia output, the end-of-fragment
//! marker).
//!
//! Owns Tag element meanings and the KVS tag names. It must not decide which fragment a tag
//! belongs to (that is `super::super::fragment`) and must not buffer input.

use bytes::Bytes;

use super::error::{ElementPath, MkvError, MkvErrorKind};
use super::ids;
use crate::media::ebml::reader::{self, Child, Children};
use crate::media::ebml::writer::{EbmlWriter, SizeForm};

/// SimpleTag name with which the KVS producer (PIC `EOFR_METADATA_NAME`) closes a fragment.
pub const END_OF_FRAGMENT_TAG: &str = "AWS_KINESISVIDEO_END_OF_FRAGMENT";
/// Tag KVS adds to fragments in GetMedia output: the fragment number.
pub const FRAGMENT_NUMBER_TAG: &str = "AWS_KINESISVIDEO_FRAGMENT_NUMBER";
/// Tag KVS adds to fragments in GetMedia output: server-side timestamp (seconds, decimal).
pub const SERVER_TIMESTAMP_TAG: &str = "AWS_KINESISVIDEO_SERVER_TIMESTAMP";
/// Tag KVS adds to fragments in GetMedia output: producer-side timestamp (seconds, decimal).
pub const PRODUCER_TIMESTAMP_TAG: &str = "AWS_KINESISVIDEO_PRODUCER_TIMESTAMP";
/// Tag KVS adds to GetMedia output when an error occurs: the error code (string).
pub const ERROR_CODE_TAG: &str = "AWS_KINESISVIDEO_ERROR_CODE";
/// Tag KVS adds to GetMedia output when an error occurs: the error id (integer string).
pub const ERROR_ID_TAG: &str = "AWS_KINESISVIDEO_ERROR_ID";
/// Tag KVS adds to GetMedia output: milliseconds behind the newest fragment.
pub const MILLIS_BEHIND_NOW_TAG: &str = "AWS_KINESISVIDEO_MILLIS_BEHIND_NOW";
/// Tag KVS adds to GetMedia output: a continuation token (a fragment number).
pub const CONTINUATION_TOKEN_TAG: &str = "AWS_KINESISVIDEO_CONTINUATION_TOKEN";
/// GetMediaForFragmentList's name for the server-side timestamp tag.
pub const SERVER_SIDE_TIMESTAMP_TAG: &str = "AWS_KINESISVIDEO_SERVER_SIDE_TIMESTAMP";
/// GetMediaForFragmentList's name for the producer-side timestamp tag.
pub const PRODUCER_SIDE_TIMESTAMP_TAG: &str = "AWS_KINESISVIDEO_PRODUCER_SIDE_TIMESTAMP";
/// GetMediaForFragmentList error tag: the integer error code.
pub const EXCEPTION_ERROR_CODE_TAG: &str = "AWS_KINESISVIDEO_EXCEPTION_ERROR_CODE";
/// GetMediaForFragmentList error tag: a text description.
pub const EXCEPTION_MESSAGE_TAG: &str = "AWS_KINESISVIDEO_EXCEPTION_MESSAGE";

/// One `SimpleTag`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SimpleTag {
    /// TagName (empty if absent).
    pub name: String,
    /// TagString (empty if absent; KVS metadata values are strings).
    pub value: String,
    /// TagBinary, if present (zero-copy slice of the Tags element).
    pub binary: Option<Bytes>,
    /// TagLanguage, if present.
    pub language: Option<String>,
    /// Whether the enclosing `Tag` has `Targets` naming a track, edition, chapter or attachment
    /// UID. Such tags describe that item (e.g. ffmpeg's per-track `DURATION`), not the stream.
    pub targeted: bool,
    /// Nested SimpleTags.
    pub children: Vec<SimpleTag>,
}

impl SimpleTag {
    /// Whether this is the KVS end-of-fragment marker.
    pub fn is_end_of_fragment(&self) -> bool {
        self.name == END_OF_FRAGMENT_TAG
    }
}

/// Limits applied while parsing one Tags element.
#[derive(Debug, Clone, Copy)]
pub struct TagLimits {
    /// Maximum number of SimpleTags (nested ones included) in one Tags element.
    pub max_simple_tags: usize,
    /// Maximum nesting of SimpleTags inside SimpleTags.
    pub max_nesting: usize,
}

/// Parses the payload of a `Tags` element into the top-level SimpleTags of each `Tag`, in order.
///
/// `raw` is the whole element, `data_start` where its payload begins inside `raw`, `offset` the
/// absolute input offset of `raw[0]`, `path` the Tags element's path.
pub fn parse_tags(
    raw: &Bytes,
    data_start: usize,
    offset: u64,
    path: ElementPath,
    limits: TagLimits,
) -> Result<Vec<SimpleTag>, MkvError> {
    let data = raw.get(data_start..).unwrap_or(&[]);
    let mut out = Vec::new();
    let mut count = 0usize;
    for tag in Children::new(data, offset.saturating_add(data_start as u64)) {
        let tag = tag.map_err(|e| MkvError::from_ebml(e, path))?;
        if tag.id != ids::TAG {
            continue;
        }
        let tag_path = path.child(ids::TAG);
        let mut targeted = false;
        let first = out.len();
        for child in Children::new(tag.data, tag.data_offset) {
            let c = child.map_err(|e| MkvError::from_ebml(e, tag_path))?;
            match c.id {
                ids::TARGETS => targeted = targets_name_an_item(&c, tag_path)?,
                ids::SIMPLE_TAG => {
                    let st =
                        parse_simple_tag(raw, &c, tag_path.child(ids::SIMPLE_TAG), 1, &mut count, limits)?;
                    out.push(st);
                }
                _ => {}
            }
        }
        // Targets may come after the SimpleTags; apply the flag to all of this Tag's entries.
        if targeted {
            for st in out.iter_mut().skip(first) {
                st.targeted = true;
            }
        }
    }
    Ok(out)
}

fn targets_name_an_item(targets: &Child<'_>, path: ElementPath) -> Result<bool, MkvError> {
    let path = path.child(ids::TARGETS);
    for child in Children::new(targets.data, targets.data_offset) {
        let c = child.map_err(|e| MkvError::from_ebml(e, path))?;
        if matches!(
            c.id,
            ids::TAG_TRACK_UID | ids::TAG_EDITION_UID | ids::TAG_CHAPTER_UID | ids::TAG_ATTACHMENT_UID
        ) {
            let uid = reader::read_uint(c.data)
                .map_err(|k| MkvError::new(MkvErrorKind::Ebml(k), c.offset, path.child(c.id)))?;
            // UID 0 means "all items", i.e. not targeted.
            if uid != 0 {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

fn parse_simple_tag(
    raw: &Bytes,
    st: &Child<'_>,
    path: ElementPath,
    depth: usize,
    count: &mut usize,
    limits: TagLimits,
) -> Result<SimpleTag, MkvError> {
    if depth > limits.max_nesting {
        return Err(MkvError::new(MkvErrorKind::NestingTooDeep, st.offset, path));
    }
    *count += 1;
    if *count > limits.max_simple_tags {
        return Err(MkvError::new(
            MkvErrorKind::TooManyEntries { limit: limits.max_simple_tags },
            st.offset,
            path,
        ));
    }
    let mut out = SimpleTag::default();
    for child in Children::new(st.data, st.data_offset) {
        let c = child.map_err(|e| MkvError::from_ebml(e, path))?;
        match c.id {
            ids::TAG_NAME => out.name = reader::read_string(c.data),
            ids::TAG_STRING => out.value = reader::read_string(c.data),
            ids::TAG_BINARY => out.binary = Some(raw.slice_ref(c.data)),
            ids::TAG_LANGUAGE => out.language = Some(reader::read_string(c.data)),
            ids::SIMPLE_TAG => {
                let nested =
                    parse_simple_tag(raw, &c, path.child(ids::SIMPLE_TAG), depth + 1, count, limits)?;
                out.children.push(nested);
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Builds one `Tags` element holding one `Tag` (without Targets) with one SimpleTag
/// (TagName + TagString) per pair, in order — the shape KVS uses for fragment metadata and for
/// the `AWS_KINESISVIDEO_*` tags in GetMedia output.
pub fn build_tags<N: AsRef<str>, V: AsRef<str>>(tags: &[(N, V)]) -> Bytes {
    let mut w = EbmlWriter::with_size_form(SizeForm::Minimal);
    let tags_mark = w.start_master(ids::TAGS);
    let tag_mark = w.start_master(ids::TAG);
    for (name, value) in tags {
        let st = w.start_master(ids::SIMPLE_TAG);
        w.string(ids::TAG_NAME, name.as_ref()).string(ids::TAG_STRING, value.as_ref());
        w.end_master(st);
    }
    w.end_master(tag_mark);
    w.end_master(tags_mark);
    w.finish()
}

/// Builds the Tags element a KVS producer sends to close a fragment
/// (`AWS_KINESISVIDEO_END_OF_FRAGMENT` with an empty string value).
pub fn build_end_of_fragment_tags() -> Bytes {
    build_tags(&[(END_OF_FRAGMENT_TAG, "")])
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: TagLimits = TagLimits { max_simple_tags: 100, max_nesting: 4 };

    #[test]
    fn build_then_parse() {
        let raw = build_tags(&[("TEST_KEY_1", "TEST_VALUE_1"), (END_OF_FRAGMENT_TAG, "")]);
        // Header: 4-byte ID + 8-byte size.
        let tags = parse_tags(&raw, 12, 0, ElementPath::root().child(ids::TAGS), LIMITS).unwrap();
        assert_eq!(tags.len(), 2);
        assert_eq!(tags[0].name, "TEST_KEY_1");
        assert_eq!(tags[0].value, "TEST_VALUE_1");
        assert!(!tags[0].targeted);
        assert!(tags[1].is_end_of_fragment());
    }

    #[test]
    fn nesting_limit() {
        let mut w = EbmlWriter::new();
        let t = w.start_master(ids::TAGS);
        let tag = w.start_master(ids::TAG);
        let mut marks = Vec::new();
        for _ in 0..6 {
            marks.push(w.start_master(ids::SIMPLE_TAG));
            w.string(ids::TAG_NAME, "x");
        }
        for m in marks.into_iter().rev() {
            w.end_master(m);
        }
        w.end_master(tag);
        w.end_master(t);
        let raw = w.finish();
        let err = parse_tags(&raw, 12, 0, ElementPath::root().child(ids::TAGS), LIMITS).unwrap_err();
        assert_eq!(err.kind, MkvErrorKind::NestingTooDeep);
    }
}
