//! The payload encoder's side of the simple shapes: a payload made only of dicts with `str`
//! keys, lists, `str`, `int` (64-bit), `bool` and `None` is written as JSON here, with no
//! call to `orjson.dumps` and no `bytes` object of its own (the decoder has the same fast
//! path, `payload.rs`). Anything else, a float, a subclass, a dataclass, a big int, a lone
//! surrogate, deeper nesting, is left to `orjson.dumps`, whose output and errors are the
//! reference: for the simple shapes the bytes written here are orjson's.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyInt, PyList, PyString};

use crate::json::write_string;

/// Nesting past this is left to orjson (which refuses recursion past 254 levels).
const MAX_DEPTH: usize = 32;

/// Appends `payload` as JSON and returns true, or returns false (with `out` part-written:
/// the caller truncates it) when some part of it is not of the simple shapes.
pub fn write_simple(payload: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> bool {
    write_value(payload, out, 0)
}

fn write_value(value: &Bound<'_, PyAny>, out: &mut Vec<u8>, depth: usize) -> bool {
    if let Ok(text) = value.cast_exact::<PyString>() {
        return write_str(text, out);
    }
    if let Ok(dict) = value.cast_exact::<PyDict>() {
        return depth < MAX_DEPTH && write_dict(dict, out, depth + 1);
    }
    if let Ok(list) = value.cast_exact::<PyList>() {
        return depth < MAX_DEPTH && write_list(list, out, depth + 1);
    }
    if let Ok(int) = value.cast_exact::<PyInt>() {
        let Ok(number) = int.extract::<i64>() else { return false };
        write_int(out, number);
        return true;
    }
    if let Ok(flag) = value.cast_exact::<PyBool>() {
        out.extend_from_slice(if flag.is_true() { b"true" } else { b"false" });
        return true;
    }
    if value.is_none() {
        out.extend_from_slice(b"null");
        return true;
    }
    false
}

fn write_str(text: &Bound<'_, PyString>, out: &mut Vec<u8>) -> bool {
    // a lone surrogate is not UTF-8: orjson's error
    let Ok(text) = text.to_str() else { return false };
    write_string(out, text);
    true
}

fn write_dict(dict: &Bound<'_, PyDict>, out: &mut Vec<u8>, depth: usize) -> bool {
    out.push(b'{');
    for (index, (key, value)) in dict.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        // orjson refuses other keys; its error is the one to give
        let Ok(key) = key.cast_exact::<PyString>() else { return false };
        if !write_str(key, out) {
            return false;
        }
        out.push(b':');
        if !write_value(&value, out, depth) {
            return false;
        }
    }
    out.push(b'}');
    true
}

fn write_list(list: &Bound<'_, PyList>, out: &mut Vec<u8>, depth: usize) -> bool {
    out.push(b'[');
    for (index, item) in list.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        if !write_value(&item, out, depth) {
            return false;
        }
    }
    out.push(b']');
    true
}

/// Appends `number` in decimal.
fn write_int(out: &mut Vec<u8>, number: i64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = number.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if number < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&digits[at..]);
}
