//! The little JSON the envelope needs: strings, null, skipping a value, and escaping.
//!
//! Payloads are never parsed here. The envelope parser only finds where a payload starts and
//! ends; the payload slice then goes whole to the payload decoder (orjson by default).

use std::borrow::Cow;

use crate::error::FrameError;

/// Position of the first byte at or after `pos` that is not JSON whitespace.
#[inline]
pub fn skip_ws(buf: &[u8], mut pos: usize) -> usize {
    while let Some(b) = buf.get(pos) {
        if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            break;
        }
        pos += 1;
    }
    pos
}

#[cold]
#[inline(never)]
pub fn malformed(what: &'static str, pos: usize) -> FrameError {
    FrameError::Json { what, pos }
}

// Strings are scanned many bytes at a time: 16 (SSE2) while 16 are left, then 8 (SWAR: a
// whole word tested for the bytes that matter), then one; only the first candidate byte is
// looked at. Byte-at-a-time loops cost the S1 envelope 1,090 instructions per message
// (callgrind, issue 17); see `parse_string` and `scan_string` for what this saved. Every
// string scan goes through `scan_string`, the payload decoder's (`py/payload.rs`) too.
// Scanning the payload's structure a word at a time was tried too and lost (S1: +110
// instructions): its brackets, colons and quotes are a few bytes apart, so nearly every word
// stops at its first byte.

/// 0x01 in every byte of a word.
const LO: u64 = 0x0101_0101_0101_0101;
/// 0x80 (the high bit) in every byte of a word.
const HI: u64 = 0x8080_8080_8080_8080;

/// The 8 bytes at `i` as a little-endian word (byte `i` lowest), if there are 8.
#[inline]
fn word_at(buf: &[u8], i: usize) -> Option<u64> {
    let bytes = buf.get(i..i + 8)?;
    let mut word = [0u8; 8];
    word.copy_from_slice(bytes);
    Some(u64::from_le_bytes(word))
}

/// The high bit of every byte of `v` that is zero. Exact up to and including the first such
/// byte (a borrow can only flag bytes above it), which is all the callers look at.
#[inline]
fn zero_bytes(v: u64) -> u64 {
    v.wrapping_sub(LO) & !v & HI
}

/// The high bit of every byte of `w` equal to `b` (exact up to the first).
#[inline]
fn eq_bytes(w: u64, b: u8) -> u64 {
    zero_bytes(w ^ (LO * u64::from(b)))
}

/// The high bit of every byte of `w` below `n` (n <= 0x80; exact up to the first).
#[inline]
fn lt_bytes(w: u64, n: u8) -> u64 {
    w.wrapping_sub(LO * u64::from(n)) & !w & HI
}

/// Index within the word of its first flagged byte.
#[inline]
fn first(mask: u64) -> usize {
    (mask.trailing_zeros() / 8) as usize
}

/// The bytes of `w` that end or escape a JSON string: a quote, a backslash or a control
/// byte (exact up to the first).
#[inline]
fn string_stops(w: u64) -> u64 {
    eq_bytes(w, b'"') | eq_bytes(w, b'\\') | lt_bytes(w, 0x20)
}

/// Position of the first byte at or after `i` that ends or escapes a string (a quote, a
/// backslash or a control byte); past the end (`buf.len()` or `i`) if there is none. What
/// the byte is, the caller decides. The one scan of `parse_string`, `plain_string` and
/// `skip_string`, which had a loop each.
#[inline]
pub(crate) fn string_stop(buf: &[u8], i: usize) -> usize {
    scan_string::<false>(buf, i)
}

/// `string_stop`, and with `NON_ASCII` stopping at any byte from 0x80 up as well (the
/// payload decoder builds an ASCII string without decoding it). 16 bytes at a time while 16
/// are left, then 8, then one. 16 at a time took S1's payload strings from 475 instructions
/// to 334 (callgrind, issue 17); given to the envelope's strings and to `skip_string` as
/// well, per message S1 1,601 -> 1,566 instructions in `_native`, S3 1,610 -> 1,603, the
/// frames of `bench_receive.py --payload float` (skipped) 7,192 -> 6,849 (callgrind).
#[inline]
pub(crate) fn scan_string<const NON_ASCII: bool>(buf: &[u8], mut i: usize) -> usize {
    while let Some(mask) = stops16::<NON_ASCII>(buf, i) {
        if mask != 0 {
            return i + mask.trailing_zeros() as usize;
        }
        i += 16;
    }
    while let Some(w) = word_at(buf, i) {
        let stop = if NON_ASCII { string_stops(w) | (w & HI) } else { string_stops(w) };
        if stop != 0 {
            return i + first(stop);
        }
        i += 8;
    }
    while let Some(&b) = buf.get(i) {
        if b == b'"' || b == b'\\' || b < 0x20 || (NON_ASCII && b >= 0x80) {
            break;
        }
        i += 1;
    }
    i
}

/// A bit for each of the 16 bytes at `i` that `scan_string` stops at (bit 0 for byte `i`),
/// or None when fewer than 16 are left. SSE2, which every x86-64 has.
#[cfg(target_arch = "x86_64")]
#[inline]
fn stops16<const NON_ASCII: bool>(buf: &[u8], i: usize) -> Option<i32> {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_cmplt_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8,
        _mm_or_si128, _mm_set1_epi8,
    };
    let bytes = buf.get(i..i + 16)?;
    // SAFETY: SSE2 is part of x86-64; the load reads exactly the 16 bytes of `bytes`
    // (`loadu`: no alignment needed, so the cast to the vector type's pointer is fine).
    #[allow(clippy::cast_ptr_alignment)]
    unsafe {
        let v = _mm_loadu_si128(bytes.as_ptr().cast::<__m128i>());
        let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(0x22)); // '"'
        let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(0x5c)); // '\\'
        let low = if NON_ASCII {
            // signed: below 0x20, and every byte from 0x80 up (negative)
            _mm_cmplt_epi8(v, _mm_set1_epi8(0x20))
        } else {
            // unsigned: min(v, 0x1f) == v only for v <= 0x1f
            _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v)
        };
        Some(_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), low)))
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn stops16<const NON_ASCII: bool>(_buf: &[u8], _i: usize) -> Option<i32> {
    None
}

/// Parses a JSON string starting at `pos` (which must hold `"`). Returns the unescaped text and
/// the position just past the closing quote. Borrows when the string has no escapes.
///
/// The input is already known to be UTF-8 (a `str`), and quotes are ASCII, so the text between
/// them is a valid `str` slice: no validation per field. Eight bytes (now 16: `string_stop`)
/// are tested at once for a quote, a backslash or a control character: S1's topic and event
/// took 162 instructions each byte by byte, 102 so (callgrind, issue 17; S1 40 fewer per
/// message in all, S3 95).
pub fn parse_string<'a>(
    text: &'a str,
    pos: usize,
    field: &'static str,
) -> Result<(Cow<'a, str>, usize), FrameError> {
    let buf = text.as_bytes();
    let start = pos + 1;
    let end = string_stop(buf, start);
    match buf.get(end) {
        Some(b'"') => Ok((Cow::Borrowed(&text[start..end]), end + 1)),
        Some(b'\\') => parse_escaped(buf, pos, end, field),
        Some(_) => Err(malformed("control character in string", end)),
        None => Err(malformed("unterminated string", pos)),
    }
}

/// The slow path of `parse_string`: the string holds escapes from `first_escape` on.
fn parse_escaped<'a>(
    buf: &'a [u8],
    pos: usize,
    first_escape: usize,
    field: &'static str,
) -> Result<(Cow<'a, str>, usize), FrameError> {
    let mut out: Vec<u8> = buf[pos + 1..first_escape].to_vec();
    let mut i = first_escape;
    loop {
        match buf.get(i) {
            None => return Err(malformed("unterminated string", pos)),
            Some(b'"') => {
                let text = String::from_utf8(out).map_err(|_| FrameError::InvalidUtf8 { field })?;
                return Ok((Cow::Owned(text), i + 1));
            }
            Some(b'\\') => i = unescape_one(buf, i, &mut out)?,
            Some(&b) if b < 0x20 => return Err(malformed("control character in string", i)),
            Some(&b) => {
                out.push(b);
                i += 1;
            }
        }
    }
}

/// Decodes the escape sequence at `i` (a backslash) into `out`; returns the next position.
fn unescape_one(buf: &[u8], i: usize, out: &mut Vec<u8>) -> Result<usize, FrameError> {
    let simple = match buf.get(i + 1) {
        Some(b'"') => b'"',
        Some(b'\\') => b'\\',
        Some(b'/') => b'/',
        Some(b'b') => 0x08,
        Some(b'f') => 0x0c,
        Some(b'n') => b'\n',
        Some(b'r') => b'\r',
        Some(b't') => b'\t',
        Some(b'u') => return unescape_unicode(buf, i, out),
        _ => return Err(malformed("invalid escape", i)),
    };
    out.push(simple);
    Ok(i + 2)
}

fn hex4(buf: &[u8], at: usize) -> Result<u32, FrameError> {
    let digits = buf.get(at..at + 4).ok_or_else(|| malformed("truncated \\u escape", at))?;
    let mut value = 0u32;
    for &d in digits {
        let nibble = (d as char).to_digit(16).ok_or_else(|| malformed("invalid \\u escape", at))?;
        value = value * 16 + nibble;
    }
    Ok(value)
}

fn unescape_unicode(buf: &[u8], i: usize, out: &mut Vec<u8>) -> Result<usize, FrameError> {
    let high = hex4(buf, i + 2)?;
    let (code, next) = if (0xD800..0xDC00).contains(&high) {
        if buf.get(i + 6..i + 8) != Some(b"\\u") {
            return Err(malformed("unpaired surrogate", i));
        }
        let low = hex4(buf, i + 8)?;
        if !(0xDC00..0xE000).contains(&low) {
            return Err(malformed("unpaired surrogate", i));
        }
        (0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00), i + 12)
    } else {
        (high, i + 6)
    };
    let ch = char::from_u32(code).ok_or_else(|| malformed("unpaired surrogate", i))?;
    let mut utf8_buf = [0u8; 4];
    out.extend_from_slice(ch.encode_utf8(&mut utf8_buf).as_bytes());
    Ok(next)
}

/// The string at `pos` (which must hold `"`) and the position past it, if it has no escape
/// and no control character; None otherwise (`parse_string` then decides). No error values
/// on the way: the fast path of the V2 envelope (`frame::fast_v2_head`).
#[inline]
pub fn plain_string(text: &str, pos: usize) -> Option<(&str, usize)> {
    let start = pos + 1;
    let end = string_stop(text.as_bytes(), start);
    if text.as_bytes().get(end) != Some(&b'"') {
        return None;
    }
    Some((text.get(start..end)?, end + 1))
}

/// Parses a string or `null` at `pos` (after whitespace).
pub fn parse_opt_string<'a>(
    text: &'a str,
    pos: usize,
    field: &'static str,
) -> Result<(Option<Cow<'a, str>>, usize), FrameError> {
    let buf = text.as_bytes();
    match buf.get(pos) {
        Some(b'"') => parse_string(text, pos, field).map(|(s, end)| (Some(s), end)),
        Some(b'n') if buf.get(pos..pos + 4) == Some(b"null") => Ok((None, pos + 4)),
        _ => Err(FrameError::FieldType { field, expected: "a string or null" }),
    }
}

/// Parses a string (not null) at `pos`.
pub fn parse_req_string<'a>(
    text: &'a str,
    pos: usize,
    field: &'static str,
) -> Result<(Cow<'a, str>, usize), FrameError> {
    match text.as_bytes().get(pos) {
        Some(b'"') => parse_string(text, pos, field),
        _ => Err(FrameError::FieldType { field, expected: "a string" }),
    }
}

/// Finds the end of the JSON value at `pos` without building it. Brackets are balanced and
/// strings skipped with their escapes; scalars end at the next delimiter. Full validation is
/// the payload decoder's job.
pub fn skip_value(buf: &[u8], pos: usize) -> Result<usize, FrameError> {
    match buf.get(pos) {
        None => Err(malformed("expected a value", pos)),
        Some(b'"') => skip_string(buf, pos),
        Some(b'{' | b'[') => skip_container(buf, pos),
        Some(_) => skip_scalar(buf, pos),
    }
}

/// Past the end of the string at `pos`, by `string_stop`: an escape's backslash and the
/// byte after it are passed over, and so is a control byte (refusing it is the payload
/// decoder's job). It tested one word, then called `memchr2` (66 instructions a call); the
/// skip of the `--payload float` frames of `bench_receive.py`, which the payload decoder
/// gives up on, went 1,505 -> 1,357 instructions (callgrind; S1 and S3 never skip). Inlined
/// into `skip_container` for its many short keys: without, the 16-byte scan made that skip
/// 227 instructions dearer, not cheaper.
#[allow(clippy::inline_always, reason = "measured: see above")]
#[inline(always)]
fn skip_string(buf: &[u8], pos: usize) -> Result<usize, FrameError> {
    let mut i = pos + 1;
    loop {
        i = string_stop(buf, i);
        match buf.get(i) {
            Some(b'"') => return Ok(i + 1),
            Some(b'\\') => i += 2,
            Some(_) => i += 1,
            None => return Err(malformed("unterminated string", pos)),
        }
    }
}

/// `skip_value` for a caller whose own parser of the value at `pos` stopped at `resume`,
/// with `open` arrays or objects open there and outside any string (at the start of a
/// token, or within a number or a literal). The skip goes on from `resume`, in the state
/// `skip_value` from `pos` would be in there, so it ends, or fails, as that would; with
/// `open` 0 it is `skip_value` from `pos`.
pub fn skip_value_from(buf: &[u8], pos: usize, resume: usize, open: usize) -> Result<usize, FrameError> {
    if open == 0 {
        return skip_value(buf, pos);
    }
    skip_container_from(buf, pos, resume, open)
}

/// Past the end of the array or object at `pos`.
fn skip_container(buf: &[u8], pos: usize) -> Result<usize, FrameError> {
    skip_container_from(buf, pos, pos, 0)
}

/// Past the end of the array or object at `pos`, from `resume` on, with `depth` of its
/// brackets open there. A byte at a time between strings; the strings inside go through
/// `skip_string`, a word at a time: that took the S1 payload's skip from 420 to ~200
/// instructions (callgrind, issue 17).
fn skip_container_from(buf: &[u8], pos: usize, resume: usize, mut depth: usize) -> Result<usize, FrameError> {
    let mut i = resume;
    while let Some(&b) = buf.get(i) {
        match b {
            b'"' => {
                i = skip_string(buf, i)?;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return Ok(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    Err(malformed("unterminated array or object", pos))
}

fn skip_scalar(buf: &[u8], pos: usize) -> Result<usize, FrameError> {
    let mut i = pos;
    while let Some(b) = buf.get(i) {
        if matches!(b, b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r') {
            break;
        }
        i += 1;
    }
    if i == pos {
        return Err(malformed("expected a value", pos));
    }
    Ok(i)
}

/// Appends `s` as a JSON string literal, escaped as orjson escapes: `\"`, `\\`, the short
/// forms of backspace, form feed, newline, return and tab, and `\u00XX` for the other control
/// bytes; everything else as it is (UTF-8).
pub fn write_string(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    loop {
        // the decoder's scan, 16 bytes at a time: payload strings, which can be long, are
        // written here too (`py/dump.rs`)
        let stop = string_stop(bytes, start);
        out.extend_from_slice(&bytes[start..stop]);
        let Some(&b) = bytes.get(stop) else { break };
        write_escape(out, b);
        start = stop + 1;
    }
    out.push(b'"');
}

fn write_escape(out: &mut Vec<u8>, b: u8) {
    match b {
        b'"' => out.extend_from_slice(b"\\\""),
        b'\\' => out.extend_from_slice(b"\\\\"),
        b'\n' => out.extend_from_slice(b"\\n"),
        b'\r' => out.extend_from_slice(b"\\r"),
        b'\t' => out.extend_from_slice(b"\\t"),
        0x08 => out.extend_from_slice(b"\\b"),
        0x0c => out.extend_from_slice(b"\\f"),
        _ => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        }
    }
}

/// Appends a string literal or `null`.
pub fn write_opt_string(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => write_string(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trip(s: &str) -> String {
        let mut out = Vec::new();
        write_string(&mut out, s);
        let out = String::from_utf8(out).unwrap();
        let (parsed, end) = parse_string(&out, 0, "t").unwrap();
        assert_eq!(end, out.len());
        parsed.into_owned()
    }

    #[test]
    fn escapes_round_trip() {
        for s in ["", "plain", "quo\"te", "back\\slash", "nl\n\r\t", "\u{1}\u{1f}", "café 🚀"] {
            assert_eq!(round_trip(s), s);
        }
    }

    #[test]
    fn unicode_escapes_and_surrogates() {
        let (s, _) = parse_string(r#""\u00e9\ud83d\ude80\/""#, 0, "t").unwrap();
        assert_eq!(s, "é🚀/");
        assert!(parse_string(r#""\ud83d""#, 0, "t").is_err());
        assert!(parse_string(r#""\ude80""#, 0, "t").is_err());
        assert!(parse_string(r#""\x""#, 0, "t").is_err());
        assert!(parse_string(r#""\u12""#, 0, "t").is_err());
        assert!(parse_string("\"abc", 0, "t").is_err());
    }

    #[test]
    fn skips_values() {
        let cases: &[(&[u8], usize)] = &[
            (br#"{"a":[1,2,{"b":"]}"}]} tail"#, 22),
            (br#""x\"y" tail"#, 6),
            (b"123,", 3),
            (b"null]", 4),
            (b"[]", 2),
        ];
        for (buf, end) in cases {
            assert_eq!(skip_value(buf, 0).unwrap(), *end, "{}", String::from_utf8_lossy(buf));
        }
        assert!(skip_value(b"{\"a\":1", 0).is_err());
        assert!(skip_value(b"", 0).is_err());
        assert!(skip_value(b"]", 0).is_err());
    }

    /// The byte-at-a-time scanners the word-at-a-time ones replaced (issue 17): the test
    /// oracle they must agree with, result for result and error for error. Kept apart from
    /// the code under test on purpose (not a second copy to merge): only `skip_scalar` and
    /// `parse_escaped`, byte loops on both sides, are shared.
    mod reference {
        use super::super::{malformed, parse_escaped, skip_scalar, FrameError};
        use std::borrow::Cow;

        pub fn parse_string<'a>(
            text: &'a str,
            pos: usize,
            field: &'static str,
        ) -> Result<(Cow<'a, str>, usize), FrameError> {
            let buf = text.as_bytes();
            let start = pos + 1;
            let mut i = start;
            loop {
                match buf.get(i) {
                    None => return Err(malformed("unterminated string", pos)),
                    Some(b'"') => return Ok((Cow::Borrowed(&text[start..i]), i + 1)),
                    Some(b'\\') => return parse_escaped(buf, pos, i, field),
                    Some(&b) if b < 0x20 => return Err(malformed("control character in string", i)),
                    Some(_) => i += 1,
                }
            }
        }

        pub fn skip_value(buf: &[u8], pos: usize) -> Result<usize, FrameError> {
            match buf.get(pos) {
                None => Err(malformed("expected a value", pos)),
                Some(b'"') => skip_string(buf, pos),
                Some(b'{' | b'[') => skip_container(buf, pos),
                Some(_) => skip_scalar(buf, pos),
            }
        }

        fn skip_string(buf: &[u8], pos: usize) -> Result<usize, FrameError> {
            let mut i = pos + 1;
            loop {
                match buf.get(i) {
                    None => return Err(malformed("unterminated string", pos)),
                    Some(b'"') => return Ok(i + 1),
                    Some(b'\\') => i += 2,
                    Some(_) => i += 1,
                }
            }
        }

        fn skip_container(buf: &[u8], pos: usize) -> Result<usize, FrameError> {
            let mut depth = 0usize;
            let mut i = pos;
            while let Some(&b) = buf.get(i) {
                match b {
                    b'"' => {
                        i = skip_string(buf, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Ok(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            Err(malformed("unterminated array or object", pos))
        }
    }

    /// JSON-ish text: mostly the bytes the scanners look for, so that every branch is taken.
    fn jsonish() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just('"'),
                Just('\\'),
                Just('{'),
                Just('}'),
                Just('['),
                Just(']'),
                Just(','),
                Just(':'),
                Just('Y'),
                Just('_'),
                Just('y'),
                Just('\u{7f}'),
                Just('\n'),
                Just('\u{1}'),
                Just('u'),
                Just('0'),
                Just('x'),
                Just('é'),
                Just(' ')
            ],
            0..80,
        )
        .prop_map(|chars| chars.into_iter().collect())
    }

    #[test]
    fn scanners_handle_words_and_tails() {
        let long = format!("{{\"data\":\"{}\",\"i\":12}}", "x".repeat(100));
        assert_eq!(skip_value(long.as_bytes(), 0).unwrap(), long.len());
        let escaped = format!("\"{}\\\"{}\" tail", "a".repeat(13), "b".repeat(30));
        assert_eq!(skip_value(escaped.as_bytes(), 0).unwrap(), escaped.len() - 5);
        let (s, end) = parse_string("\"burst_msg_burst_msg\",", 0, "t").unwrap();
        assert_eq!((s.as_ref(), end), ("burst_msg_burst_msg", 21));
        assert!(parse_string("\"abcdefgh\u{1}ijk\"", 0, "t").is_err());
    }

    /// Text of long runs the scans pass over (so that 16 and 8 bytes at a time both go on
    /// and stop), with the bytes at the edges of what stops them: 0x1f and 0x20, 0x7f and
    /// 0x80 and up ('é' is 0xc3 0xa9).
    fn scannable() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                30 => Just('x'),
                1 => Just('"'),
                1 => Just('\\'),
                1 => Just('\u{1f}'),
                1 => Just(' '),
                1 => Just('\u{7f}'),
                1 => Just('é'),
                1 => Just('\u{0}'),
            ],
            0..120,
        )
        .prop_map(|chars| chars.into_iter().collect())
    }

    /// Where a byte search finds the first byte that `scan_string` must stop at.
    fn first_stop(buf: &[u8], from: usize, non_ascii: bool) -> usize {
        let stops = |b: u8| b == b'"' || b == b'\\' || b < 0x20 || (non_ascii && b >= 0x80);
        let found = buf.get(from..).and_then(|rest| rest.iter().position(|&b| stops(b)));
        found.map_or(buf.len().max(from), |k| from + k)
    }

    proptest! {
        #[test]
        fn string_scans_agree_with_a_byte_search(text in scannable()) {
            let buf = text.as_bytes();
            for from in 0..buf.len() + 2 {
                prop_assert_eq!(string_stop(buf, from), first_stop(buf, from, false));
                prop_assert_eq!(scan_string::<true>(buf, from), first_stop(buf, from, true));
            }
        }

        #[test]
        fn any_string_round_trips(s in any::<String>()) {
            prop_assert_eq!(round_trip(&s), s);
        }

        #[test]
        fn word_scanners_agree_with_the_byte_loops(body in jsonish(), lead in 0usize..3) {
            for open in ["\"", "{", "[", "{\"k\":\""] {
                let text = format!("{}{open}{body}", " ".repeat(lead));
                prop_assert_eq!(skip_value(text.as_bytes(), lead), reference::skip_value(text.as_bytes(), lead));
                if open == "\"" {
                    prop_assert_eq!(parse_string(&text, lead, "f"), reference::parse_string(&text, lead, "f"));
                }
            }
        }
    }
}
