//! Payloads of the common shapes decoded straight into Python objects, without orjson.
//!
//! Most payloads on a busy socket are small objects of strings, integers, booleans and null
//! (S1's and S3's are `{"data": "x..", "i": 12}`). orjson decoded them, in one call per read,
//! for 2,180 instructions a message, more than half of the whole receive path (callgrind,
//! issue 17). Here such a payload is built directly: keys through the codec's string cache
//! (so their hash is computed once, and a key in the same place as in the last message is
//! one compare), ASCII strings allocated and copied without UTF-8 decoding, as orjson does:
//! 1,710 instructions, and the whole feed per message S1 3,959 -> 3,352, S3 3,725 -> 3,152
//! (callgrind, `benches/bench_receive.py`).
//!
//! Only an unambiguous subset is decoded: objects and arrays, strings without escapes, integers
//! of at most 18 digits (they fit an i64), `true`, `false`, `null`, JSON whitespace, nesting
//! up to 64 levels. For any other byte (an escape, a fraction or exponent, a longer integer,
//! anything malformed) the decoder gives up and the payload goes to orjson as before, which
//! then decides its value or its error: what a payload decodes to never depends on which
//! path took it (tests/native/test_receive_batch.py checks that against orjson).

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyList, PyString};

use super::strings::StringCache;
use crate::json::{scan_string, string_stop};

/// Deeper payloads go to orjson (its own limit is 1,024 levels).
const MAX_DEPTH: usize = 64;
/// Integers of up to 18 digits always fit an i64; longer ones go to orjson (which makes a
/// float of those past 64 bits).
const MAX_INT_DIGITS: usize = 18;

/// The payload as Python objects, or None when it is not of the simple shapes (a Python
/// error raised on the way, a failed allocation, is cleared: orjson then tries).
pub fn decode_simple<'py>(py: Python<'py>, json: &[u8], keys: &mut StringCache) -> Option<Bound<'py, PyAny>> {
    let (value, end) = decode_simple_prefix(py, json, keys).ok()?;
    let mut parser = Parser::new(py, json, keys);
    parser.pos = end;
    parser.skip_ws();
    (parser.pos == json.len()).then_some(value)
}

/// Where `decode_simple_prefix` gave up: at `pos`, with `open` arrays or objects open, and
/// outside any string (see `json::skip_value_from`, which can go on from there).
pub struct Stopped {
    pub pos: usize,
    pub open: usize,
}

/// The simple JSON value at the start of `json` and where it ends (what follows is not
/// looked at), or, as `decode_simple` gives None, where it gave up.
pub fn decode_simple_prefix<'py>(
    py: Python<'py>,
    json: &[u8],
    keys: &mut StringCache,
) -> Result<(Bound<'py, PyAny>, usize), Stopped> {
    let mut parser = Parser::new(py, json, keys);
    let Some(value) = parser.value() else {
        // an allocation that failed left its error set; orjson will meet it again
        let _ = PyErr::take(py);
        return Err(Stopped { pos: parser.pos, open: parser.open });
    };
    Ok((value, parser.pos))
}

struct Parser<'a, 'py, 'k> {
    py: Python<'py>,
    buf: &'a [u8],
    pos: usize,
    /// The arrays and objects open at `pos` (their brackets consumed, not yet closed).
    open: usize,
    keys: &'k mut StringCache,
}

impl<'a, 'py, 'k> Parser<'a, 'py, 'k> {
    fn new(py: Python<'py>, buf: &'a [u8], keys: &'k mut StringCache) -> Self {
        Self { py, buf, pos: 0, open: 0, keys }
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    #[inline]
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn value(&mut self) -> Option<Bound<'py, PyAny>> {
        self.skip_ws();
        match self.peek()? {
            b'{' => self.object(),
            b'[' => self.array(),
            b'"' => self.string_value(),
            b't' => self.literal(b"true").then(|| PyBool::new(self.py, true).to_owned().into_any()),
            b'f' => self.literal(b"false").then(|| PyBool::new(self.py, false).to_owned().into_any()),
            b'n' => self.literal(b"null").then(|| self.py.None().into_bound(self.py)),
            b'-' | b'0'..=b'9' => self.integer(),
            _ => None,
        }
    }

    /// Consumes `word` if it is next.
    fn literal(&mut self, word: &[u8]) -> bool {
        if self.buf.get(self.pos..self.pos + word.len()) != Some(word) {
            return false;
        }
        self.pos += word.len();
        true
    }

    /// `-?(0|[1-9][0-9]*)` with no fraction or exponent after it, at most 18 digits.
    fn integer(&mut self) -> Option<Bound<'py, PyAny>> {
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        let start = self.pos;
        let mut value: i64 = 0;
        while let Some(d @ b'0'..=b'9') = self.peek() {
            if self.pos - start == MAX_INT_DIGITS {
                return None; // a 19th digit could overflow: orjson decides
            }
            value = value * 10 + i64::from(d - b'0');
            self.pos += 1;
        }
        let digits = self.pos - start;
        if digits == 0 || (digits > 1 && self.buf[start] == b'0') {
            return None; // a lone '-', or a leading zero: orjson's error
        }
        if let Some(b'.' | b'e' | b'E') = self.peek() {
            return None; // a float: orjson's
        }
        let value = if negative { -value } else { value };
        // SAFETY: PyLong_FromLongLong returns a new reference or NULL with an error set.
        unsafe { Bound::from_owned_ptr_or_opt(self.py, ffi::PyLong_FromLongLong(value)) }
    }

    /// The bytes of the string at `pos` (a quote), if it has no escape and no control byte,
    /// and whether they are all ASCII. Past a first non-ASCII byte, the rest is scanned
    /// without stopping at the others.
    fn string_bytes(&mut self) -> Option<(&'a [u8], bool)> {
        let buf: &'a [u8] = self.buf;
        let start = self.pos + 1;
        let mut end = scan_string::<true>(buf, start); // stops at non-ASCII too
        let ascii = buf.get(end).is_none_or(|&b| b < 0x80);
        if !ascii {
            end = string_stop(buf, end);
        }
        if buf.get(end) != Some(&b'"') {
            return None;
        }
        self.pos = end + 1;
        Some((&buf[start..end], ascii))
    }

    /// A string value: built in place when ASCII (the common case: no UTF-8 decoding, as
    /// orjson does too), else decoded by CPython.
    fn string_value(&mut self) -> Option<Bound<'py, PyAny>> {
        let (bytes, ascii) = self.string_bytes()?;
        if !ascii {
            return Some(PyString::new(self.py, std::str::from_utf8(bytes).ok()?).into_any());
        }
        let len = isize::try_from(bytes.len()).ok()?;
        // SAFETY: PyUnicode_New returns a new reference or NULL with an error set. With a
        // maximum character of 127 the string is compact ASCII: `len` bytes of data (and a
        // NUL CPython already wrote), which the copy fills before anything else sees it.
        unsafe {
            let obj = Bound::from_owned_ptr_or_opt(self.py, ffi::PyUnicode_New(len, 127))?;
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                ffi::PyUnicode_DATA(obj.as_ptr()).cast::<u8>(),
                bytes.len(),
            );
            Some(obj)
        }
    }

    /// Consumes the bracket at `pos`, which opens an array or object, unless it would be
    /// one level too deep.
    fn open_bracket(&mut self) -> Option<()> {
        if self.open == MAX_DEPTH {
            return None;
        }
        self.pos += 1;
        self.open += 1;
        Some(())
    }

    /// Consumes the bracket at `pos`, which closes an array or object.
    fn close_bracket(&mut self) {
        self.pos += 1;
        self.open -= 1;
    }

    fn object(&mut self) -> Option<Bound<'py, PyAny>> {
        self.open_bracket()?;
        // SAFETY: PyDict_New returns a new reference or NULL with an error set.
        let dict = unsafe { Bound::from_owned_ptr_or_opt(self.py, ffi::PyDict_New())? };
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.close_bracket();
            return Some(dict);
        }
        let mut ordinal = 0usize;
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return None;
            }
            let (key, _) = self.string_bytes()?;
            let key = self.keys.get_key(self.py, key, ordinal)?;
            ordinal += 1;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return None;
            }
            self.pos += 1;
            let value = self.value()?;
            // SAFETY: all three are live objects; PyDict_SetItem does not steal references
            // and returns -1 with an error set on failure.
            if unsafe { ffi::PyDict_SetItem(dict.as_ptr(), key.as_ptr(), value.as_ptr()) } < 0 {
                return None;
            }
            self.skip_ws();
            match self.peek()? {
                b',' => self.pos += 1,
                b'}' => {
                    self.close_bracket();
                    return Some(dict);
                }
                _ => return None,
            }
        }
    }

    fn array(&mut self) -> Option<Bound<'py, PyAny>> {
        self.open_bracket()?;
        let list = PyList::empty(self.py);
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.close_bracket();
            return Some(list.into_any());
        }
        loop {
            let item = self.value()?;
            list.append(item).ok()?;
            self.skip_ws();
            match self.peek()? {
                b',' => self.pos += 1,
                b']' => {
                    self.close_bracket();
                    return Some(list.into_any());
                }
                _ => return None,
            }
        }
    }
}
