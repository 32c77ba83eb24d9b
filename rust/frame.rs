//! Phoenix frames: the V2 array envelope, the V1 object envelope and the V2 binary frames.
//!
//! Decoding borrows from the input wherever it can: fields are `Cow<str>` (owned only when a
//! JSON string held escapes) and the payload is a slice handed whole to the payload decoder.

use std::borrow::Cow;

use crate::error::FrameError;
use crate::json::{
    malformed, parse_opt_string, parse_req_string, plain_string, skip_value, skip_value_from, skip_ws,
    write_opt_string, write_string,
};

/// Binary frame kinds (the first byte of a binary frame).
pub const KIND_PUSH: u8 = 0;
pub const KIND_REPLY: u8 = 1;
pub const KIND_BROADCAST: u8 = 2;

/// The event name the client presents a binary reply under.
pub const REPLY_EVENT: &str = "phx_reply";

/// Where a frame's payload is, and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload<'a> {
    /// A JSON value (normally an object), still encoded.
    Json(&'a [u8]),
    /// The raw bytes of a binary push or broadcast.
    Binary(&'a [u8]),
    /// A binary reply: presented as `{"status": status, "response": <bytes>}`.
    BinaryReply { status: Cow<'a, str>, response: &'a [u8] },
}

/// One decoded frame, borrowing from the buffer it was decoded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame<'a> {
    pub join_ref: Option<Cow<'a, str>>,
    pub ref_: Option<Cow<'a, str>>,
    pub topic: Cow<'a, str>,
    pub event: Cow<'a, str>,
    pub payload: Payload<'a>,
}

/// Checks that a text frame given as bytes is UTF-8 (once, for the whole frame).
fn text_of(buf: &[u8]) -> Result<&str, FrameError> {
    simdutf8::basic::from_utf8(buf).map_err(|_| FrameError::InvalidUtf8 { field: "frame" })
}

/// Decodes a V2 text frame given as bytes: `[join_ref, ref, topic, event, payload]`.
pub fn decode_v2_text(buf: &[u8]) -> Result<Frame<'_>, FrameError> {
    decode_v2_str(text_of(buf)?)
}

/// Decodes a V2 text frame.
pub fn decode_v2_str(text: &str) -> Result<Frame<'_>, FrameError> {
    let head = decode_v2_head(text)?;
    let start = head.payload_start;
    decode_v2_rest(text, head, start, 0)
}

/// The rest of `decode_v2_str` once the head is parsed, for a caller whose parser of the
/// payload stopped at `resume` with `open` arrays or objects open there (see
/// `skip_value_from`): the payload is skipped from there, not from its start, and the frame
/// or its error is the one `decode_v2_str` gives.
pub fn decode_v2_rest<'a>(
    text: &'a str,
    head: V2Head<'a>,
    resume: usize,
    open: usize,
) -> Result<Frame<'a>, FrameError> {
    let buf = text.as_bytes();
    let start = head.payload_start;
    let end = skip_value_from(buf, start, resume, open)?;
    check_v2_tail(buf, end)?;
    Ok(head.with_payload(Payload::Json(&buf[start..end])))
}

/// The four fields of a V2 text frame and where its payload starts: the frame up to its
/// payload. `decode_v2_str` is this, `skip_value` and `check_v2_tail`; a caller that parses
/// the payload itself (and so finds its end) saves the skip (issue 17: it cost 427
/// instructions per S1 message; the feed took 421 fewer without it, by callgrind).
pub fn decode_v2_head(text: &str) -> Result<V2Head<'_>, FrameError> {
    let buf = text.as_bytes();
    let mut pos = skip_ws(buf, 0);
    match buf.get(pos) {
        None => return Err(FrameError::Empty),
        Some(b'[') => pos += 1,
        Some(_) => return Err(malformed("expected '['", pos)),
    }
    let (join_ref, pos) =
        parse_opt_string(text, skip_ws(buf, pos), "join_ref").map_err(|e| arity_if_closed(buf, pos, 0, e))?;
    let pos = expect_comma(buf, pos, 1)?;
    let (ref_, pos) = parse_opt_string(text, pos, "ref")?;
    let pos = expect_comma(buf, pos, 2)?;
    let (topic, pos) = parse_req_string(text, pos, "topic")?;
    let pos = expect_comma(buf, pos, 3)?;
    let (event, pos) = parse_req_string(text, pos, "event")?;
    let payload_start = expect_comma(buf, pos, 4)?;
    Ok(V2Head { join_ref, ref_, topic, event, payload_start })
}

/// `decode_v2_head` for the frames servers send: no whitespace and no escapes in the
/// envelope. None for anything else, which `decode_v2_head` then parses (or refuses); when
/// this returns a head, it is the one `decode_v2_head` gives (a proptest checks it). Without
/// error values and `Cow`s to carry, the whole feed per message went S1 2,931 -> 2,704
/// instructions, S3 2,771 -> 2,589 (callgrind, issue 17).
pub fn fast_v2_head(text: &str) -> Option<V2Head<'_>> {
    let buf = text.as_bytes();
    if buf.first() != Some(&b'[') {
        return None;
    }
    let (join_ref, pos) = fast_opt_string(text, 1)?;
    let (ref_, pos) = fast_opt_string(text, fast_comma(buf, pos)?)?;
    let pos = fast_comma(buf, pos)?;
    if buf.get(pos) != Some(&b'"') {
        return None;
    }
    let (topic, pos) = plain_string(text, pos)?;
    let pos = fast_comma(buf, pos)?;
    if buf.get(pos) != Some(&b'"') {
        return None;
    }
    let (event, pos) = plain_string(text, pos)?;
    let payload_start = fast_comma(buf, pos)?;
    if matches!(buf.get(payload_start), None | Some(b' ' | b'\t' | b'\n' | b'\r')) {
        return None;
    }
    Some(V2Head {
        join_ref: join_ref.map(Cow::Borrowed),
        ref_: ref_.map(Cow::Borrowed),
        topic: Cow::Borrowed(topic),
        event: Cow::Borrowed(event),
        payload_start,
    })
}

#[inline]
fn fast_opt_string(text: &str, pos: usize) -> Option<(Option<&str>, usize)> {
    let buf = text.as_bytes();
    match buf.get(pos)? {
        b'"' => plain_string(text, pos).map(|(s, end)| (Some(s), end)),
        b'n' if buf.get(pos..pos + 4) == Some(b"null") => Some((None, pos + 4)),
        _ => None,
    }
}

#[inline]
fn fast_comma(buf: &[u8], pos: usize) -> Option<usize> {
    (buf.get(pos) == Some(&b',')).then_some(pos + 1)
}

/// Checks what follows a V2 frame's payload (which ends at `end`): `]`, then only whitespace.
pub fn check_v2_tail(buf: &[u8], end: usize) -> Result<(), FrameError> {
    let pos = skip_ws(buf, end);
    match buf.get(pos) {
        Some(b']') => {}
        Some(b',') => return Err(FrameError::Arity { found: 6 + count_more(buf, pos) }),
        _ => return Err(malformed("expected ']'", pos)),
    }
    if skip_ws(buf, pos + 1) != buf.len() {
        return Err(malformed("trailing data after the frame", pos + 1));
    }
    Ok(())
}

/// A V2 text frame up to its payload (see `decode_v2_head`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V2Head<'a> {
    pub join_ref: Option<Cow<'a, str>>,
    pub ref_: Option<Cow<'a, str>>,
    pub topic: Cow<'a, str>,
    pub event: Cow<'a, str>,
    /// Where the payload starts (after the comma and any whitespace).
    pub payload_start: usize,
}

impl<'a> V2Head<'a> {
    /// The frame, given its payload.
    pub fn with_payload(self, payload: Payload<'a>) -> Frame<'a> {
        Frame { join_ref: self.join_ref, ref_: self.ref_, topic: self.topic, event: self.event, payload }
    }
}

/// `[]` has arity 0: report that rather than a type error on the first field.
fn arity_if_closed(buf: &[u8], pos: usize, found: usize, err: FrameError) -> FrameError {
    if buf.get(skip_ws(buf, pos)) == Some(&b']') {
        FrameError::Arity { found }
    } else {
        err
    }
}

/// Expects a comma before element `index`; a `]` there means the array is too short.
fn expect_comma(buf: &[u8], pos: usize, index: usize) -> Result<usize, FrameError> {
    let pos = skip_ws(buf, pos);
    match buf.get(pos) {
        Some(b',') => Ok(skip_ws(buf, pos + 1)),
        Some(b']') => Err(FrameError::Arity { found: index }),
        _ => Err(malformed("expected ','", pos)),
    }
}

/// Counts the further elements after a sixth one starts at the comma at `pos` (for the message).
fn count_more(buf: &[u8], mut pos: usize) -> usize {
    let mut extra = 0usize;
    while buf.get(pos) == Some(&b',') {
        let Ok(end) = skip_value(buf, skip_ws(buf, pos + 1)) else { break };
        pos = skip_ws(buf, end);
        extra += 1;
    }
    extra.saturating_sub(1)
}

/// Decodes a V1 text frame given as bytes.
pub fn decode_v1_text(buf: &[u8]) -> Result<Frame<'_>, FrameError> {
    decode_v1_str(text_of(buf)?)
}

/// Decodes a V1 text frame: `{"topic", "event", "payload", "ref", "join_ref"?}` in any order.
pub fn decode_v1_str(text: &str) -> Result<Frame<'_>, FrameError> {
    let buf = text.as_bytes();
    let mut pos = skip_ws(buf, 0);
    match buf.get(pos) {
        None => return Err(FrameError::Empty),
        Some(b'{') => pos = skip_ws(buf, pos + 1),
        Some(_) => return Err(malformed("expected '{'", pos)),
    }
    let mut fields = V1Fields::default();
    if buf.get(pos) == Some(&b'}') {
        pos += 1;
    } else {
        loop {
            pos = fields.parse_member(text, pos)?;
            pos = skip_ws(buf, pos);
            match buf.get(pos) {
                Some(b',') => pos = skip_ws(buf, pos + 1),
                Some(b'}') => {
                    pos += 1;
                    break;
                }
                _ => return Err(malformed("expected ',' or '}'", pos)),
            }
        }
    }
    if skip_ws(buf, pos) != buf.len() {
        return Err(malformed("trailing data after the frame", pos));
    }
    fields.into_frame()
}

#[derive(Default)]
struct V1Fields<'a> {
    topic: Option<Cow<'a, str>>,
    event: Option<Cow<'a, str>>,
    payload: Option<&'a [u8]>,
    ref_: Option<Cow<'a, str>>,
    join_ref: Option<Cow<'a, str>>,
}

impl<'a> V1Fields<'a> {
    fn parse_member(&mut self, text: &'a str, pos: usize) -> Result<usize, FrameError> {
        let buf = text.as_bytes();
        let (key, pos) = parse_req_string(text, pos, "key")?;
        let pos = skip_ws(buf, pos);
        if buf.get(pos) != Some(&b':') {
            return Err(malformed("expected ':'", pos));
        }
        let pos = skip_ws(buf, pos + 1);
        match key.as_ref() {
            "topic" => parse_req_string(text, pos, "topic").map(|(v, e)| {
                self.topic = Some(v);
                e
            }),
            "event" => parse_req_string(text, pos, "event").map(|(v, e)| {
                self.event = Some(v);
                e
            }),
            "ref" => parse_opt_string(text, pos, "ref").map(|(v, e)| {
                self.ref_ = v;
                e
            }),
            "join_ref" => parse_opt_string(text, pos, "join_ref").map(|(v, e)| {
                self.join_ref = v;
                e
            }),
            "payload" => skip_value(buf, pos).inspect(|&e| self.payload = Some(&buf[pos..e])),
            _ => skip_value(buf, pos),
        }
    }

    fn into_frame(self) -> Result<Frame<'a>, FrameError> {
        Ok(Frame {
            topic: self.topic.ok_or(FrameError::MissingKey("topic"))?,
            event: self.event.ok_or(FrameError::MissingKey("event"))?,
            payload: Payload::Json(self.payload.ok_or(FrameError::MissingKey("payload"))?),
            ref_: self.ref_,
            join_ref: self.join_ref,
        })
    }
}

/// Reads binary frames field by field, checking every length against what is there.
struct BinReader<'a> {
    buf: &'a [u8],
    kind: u8,
    pos: usize,
}

impl<'a> BinReader<'a> {
    fn header(&mut self, n: usize) -> Result<&'a [u8], FrameError> {
        self.take(n)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], FrameError> {
        let end = self.pos + n;
        let Some(bytes) = self.buf.get(self.pos..end) else {
            return Err(FrameError::Truncated { kind: self.kind, need: end, have: self.buf.len() });
        };
        self.pos = end;
        Ok(bytes)
    }

    fn text(&mut self, len: u8, field: &'static str) -> Result<Cow<'a, str>, FrameError> {
        let bytes = self.take(usize::from(len))?;
        simdutf8::basic::from_utf8(bytes).map(Cow::Borrowed).map_err(|_| FrameError::InvalidUtf8 { field })
    }

    /// A ref field: the server writes a missing ref as the empty string.
    fn opt_text(&mut self, len: u8, field: &'static str) -> Result<Option<Cow<'a, str>>, FrameError> {
        let text = self.text(len, field)?;
        Ok(if text.is_empty() { None } else { Some(text) })
    }

    fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }
}

/// Decodes a binary frame sent by the server (kinds push 0, reply 1 and broadcast 2).
///
/// An empty join_ref or ref (what Phoenix writes for a missing one) decodes as `None`.
pub fn decode_binary(buf: &[u8]) -> Result<Frame<'_>, FrameError> {
    let Some(&kind) = buf.first() else { return Err(FrameError::Empty) };
    let mut r = BinReader { buf, kind, pos: 1 };
    match kind {
        KIND_PUSH => {
            let h = r.header(3)?;
            let join_ref = r.opt_text(h[0], "join_ref")?;
            let topic = r.text(h[1], "topic")?;
            let event = r.text(h[2], "event")?;
            Ok(Frame { join_ref, ref_: None, topic, event, payload: Payload::Binary(r.rest()) })
        }
        KIND_REPLY => {
            let h = r.header(4)?;
            let join_ref = r.opt_text(h[0], "join_ref")?;
            let ref_ = r.opt_text(h[1], "ref")?;
            let topic = r.text(h[2], "topic")?;
            let status = r.text(h[3], "status")?;
            let payload = Payload::BinaryReply { status, response: r.rest() };
            Ok(Frame { join_ref, ref_, topic, event: Cow::Borrowed(REPLY_EVENT), payload })
        }
        KIND_BROADCAST => {
            let h = r.header(2)?;
            let topic = r.text(h[0], "topic")?;
            let event = r.text(h[1], "event")?;
            Ok(Frame { join_ref: None, ref_: None, topic, event, payload: Payload::Binary(r.rest()) })
        }
        other => Err(FrameError::UnknownKind(other)),
    }
}

/// The header fields of a frame to encode.
#[derive(Debug, Clone, Copy)]
pub struct Header<'a> {
    pub join_ref: Option<&'a str>,
    pub ref_: Option<&'a str>,
    pub topic: &'a str,
    pub event: &'a str,
}

/// Appends a V2 text frame; `payload_json` is the already encoded payload.
pub fn encode_v2_text(out: &mut Vec<u8>, h: &Header<'_>, payload_json: &[u8]) {
    let Ok(()) = encode_v2_text_with(out, h, copied(payload_json));
}

/// A payload writer for the `_with` encoders that copies JSON encoded beforehand.
fn copied(json: &[u8]) -> impl FnOnce(&mut Vec<u8>) -> Result<(), std::convert::Infallible> + '_ {
    move |out| {
        out.extend_from_slice(json);
        Ok(())
    }
}

/// `encode_v2_text` with the payload's JSON written by `payload` straight into `out` (no
/// buffer of its own); an error from it is returned with `out` left part-written.
pub fn encode_v2_text_with<E>(
    out: &mut Vec<u8>,
    h: &Header<'_>,
    payload: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
) -> Result<(), E> {
    out.reserve(h.topic.len() + h.event.len() + 96);
    out.push(b'[');
    write_opt_string(out, h.join_ref);
    out.push(b',');
    write_opt_string(out, h.ref_);
    out.push(b',');
    write_string(out, h.topic);
    out.push(b',');
    write_string(out, h.event);
    out.push(b',');
    payload(out)?;
    out.push(b']');
    Ok(())
}

/// Appends a V1 text frame (`join_ref` is included when present; Phoenix's V1 accepts it).
pub fn encode_v1_text(out: &mut Vec<u8>, h: &Header<'_>, payload_json: &[u8]) {
    let Ok(()) = encode_v1_text_with(out, h, copied(payload_json));
}

/// `encode_v1_text` with the payload's JSON written by `payload` straight into `out`.
pub fn encode_v1_text_with<E>(
    out: &mut Vec<u8>,
    h: &Header<'_>,
    payload: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
) -> Result<(), E> {
    out.reserve(h.topic.len() + h.event.len() + 128);
    out.extend_from_slice(b"{\"topic\":");
    write_string(out, h.topic);
    out.extend_from_slice(b",\"event\":");
    write_string(out, h.event);
    out.extend_from_slice(b",\"payload\":");
    payload(out)?;
    out.extend_from_slice(b",\"ref\":");
    write_opt_string(out, h.ref_);
    if let Some(join_ref) = h.join_ref {
        out.extend_from_slice(b",\"join_ref\":");
        write_string(out, join_ref);
    }
    out.push(b'}');
    Ok(())
}

fn field_len(value: &str, field: &'static str) -> Result<u8, FrameError> {
    u8::try_from(value.len()).map_err(|_| FrameError::FieldTooLong { field, len: value.len() })
}

/// Appends a client binary push (kind 0 with a 4-byte header).
///
/// A missing join_ref or ref is written as the empty string, as the server writes its own
/// missing refs (the JS client writes the text `null` there instead).
pub fn encode_binary_push(out: &mut Vec<u8>, h: &Header<'_>, payload: &[u8]) -> Result<(), FrameError> {
    let join_ref = h.join_ref.unwrap_or("");
    let ref_ = h.ref_.unwrap_or("");
    let lens = [
        field_len(join_ref, "join_ref")?,
        field_len(ref_, "ref")?,
        field_len(h.topic, "topic")?,
        field_len(h.event, "event")?,
    ];
    out.reserve(5 + join_ref.len() + ref_.len() + h.topic.len() + h.event.len() + payload.len());
    out.push(KIND_PUSH);
    out.extend_from_slice(&lens);
    for field in [join_ref, ref_, h.topic, h.event] {
        out.extend_from_slice(field.as_bytes());
    }
    out.extend_from_slice(payload);
    Ok(())
}

#[cfg(test)]
#[path = "frame_tests.rs"]
mod tests;
