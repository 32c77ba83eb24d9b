//! Decoding many frames with ONE call of the payload decoder.
//!
//! Calling `orjson.loads` once per frame costs a bytes object and a Python call per message,
//! more than parsing a small payload itself. So the envelopes are parsed first, every JSON
//! payload is copied into one buffer as the elements of a JSON array, and that array is decoded
//! in a single call. If the array fails to decode (one bad payload), each payload is decoded
//! alone, so the bad one becomes a `DecodeError` and the others are kept.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

use super::codec::{Codec, SimpleV2};
use super::message::new_message;
use crate::frame::{Frame, Payload};

/// A frame whose payload is not decoded yet.
struct Envelope<'py> {
    fields: [Bound<'py, PyAny>; 4],
    /// Byte range of the payload in the JSON buffer, or None when `ready` holds it.
    json: Option<(usize, usize)>,
    ready: Option<Bound<'py, PyAny>>,
}

/// What a frame became: an envelope waiting for its payload, or a finished item (a `Message`
/// or a `DecodeError` instance).
enum Slot<'py> {
    Envelope(Envelope<'py>),
    Done(Bound<'py, PyAny>),
}

pub struct BatchDecoder<'py> {
    py: Python<'py>,
    slots: Vec<Slot<'py>>,
    json: Vec<u8>,
    json_count: usize,
    /// Plain tuples instead of `Message`s: for the client's own receive path, where exact
    /// tuples unpack faster (the interpreter's fast path skips tuple subclasses).
    plain: bool,
}

impl<'py> BatchDecoder<'py> {
    pub fn with_capacity(py: Python<'py>, frames: usize) -> Self {
        Self { py, slots: Vec::with_capacity(frames), json: vec![b'['], json_count: 0, plain: false }
    }

    /// For the frames of one network read of `bytes` bytes: the payload buffer is sized for
    /// the read, which it outgrows only when inflated (permessage-deflate) payloads or a
    /// message completed across reads add to it; the slots are sized for frames of 128
    /// bytes (S1's are 150) and grow past that. Growing both by doubling, as before, cost
    /// 230 instructions per S1 message in `realloc` (callgrind, 256,000-byte reads, issue 17).
    pub fn for_read(py: Python<'py>, bytes: usize) -> Self {
        let mut json = Vec::with_capacity(bytes + 2);
        json.push(b'[');
        Self { py, slots: Vec::with_capacity(bytes / 128 + 1), json, json_count: 0, plain: false }
    }

    /// Builds plain tuples `(join_ref, ref, topic, event, payload)` rather than `Message`s.
    pub fn plain(mut self) -> Self {
        self.plain = true;
        self
    }

    /// Adds a text frame.
    pub fn push_str(&mut self, codec: &mut Codec, raw: &str) {
        let parsed = match codec.simple_v2(self.py, raw) {
            SimpleV2::Decoded(fields, payload) => {
                self.slots.push(Slot::Envelope(Envelope { fields, json: None, ready: Some(payload) }));
                return;
            }
            SimpleV2::Parsed(parsed) => parsed,
            SimpleV2::General => codec.parse_str(raw),
        };
        match parsed {
            Ok(frame) => self.push_frame(codec, &frame),
            Err(err) => self.push_error(err),
        }
    }

    /// Adds a binary frame.
    pub fn push_binary(&mut self, codec: &mut Codec, raw: &[u8]) {
        match codec.parse_binary(raw) {
            Ok(frame) => self.push_frame(codec, &frame),
            Err(err) => self.push_error(err),
        }
    }

    /// Adds an item that is already finished (a raw frame when no codec is used, say).
    pub fn push_done(&mut self, item: Bound<'py, PyAny>) {
        self.slots.push(Slot::Done(item));
    }

    fn push_error(&mut self, err: PyErr) {
        self.slots.push(Slot::Done(err.into_value(self.py).into_bound(self.py).into_any()));
    }

    fn push_frame(&mut self, codec: &mut Codec, frame: &Frame<'_>) {
        let fields = codec.envelope_fields(self.py, frame);
        let (json, ready) = match &frame.payload {
            Payload::Json(bytes) => {
                match codec.simple_after_parse().then(|| codec.simple_payload(self.py, bytes)) {
                    Some(Some(obj)) => (None, Some(obj)),
                    _ => (Some(self.append_json(bytes)), None),
                }
            }
            other => match codec.non_json_payload(self.py, other) {
                Ok(obj) => (None, Some(obj)),
                Err(err) => return self.push_error(err),
            },
        };
        self.slots.push(Slot::Envelope(Envelope { fields, json, ready }));
    }

    fn append_json(&mut self, bytes: &[u8]) -> (usize, usize) {
        if self.json_count > 0 {
            self.json.push(b',');
        }
        let start = self.json.len();
        self.json.extend_from_slice(bytes);
        self.json_count += 1;
        (start, self.json.len())
    }

    /// Decodes the payloads and returns the items in frame order.
    pub fn finish(mut self, codec: &Codec) -> PyResult<Bound<'py, PyList>> {
        let py = self.py;
        let mut payloads = self.decode_all_payloads(codec);
        // The items are made first, then the list is allocated at its final size and filled
        // in a loop that calls nothing: a list holding NULLs must never be reachable from
        // Python, and making an item can run Python code (a custom `loads`, or a collection
        // that `gc.get_objects()` could look into). Filled in place rather than appended to,
        // as the tuples are (`plain_tuple`): 47 instructions per S1 message less for the two
        // (callgrind, issue 17).
        let count = self.slots.len();
        let n = isize::try_from(count).map_err(|_| super::errors::too_many_messages_error(count))?;
        let mut items: Vec<Bound<'py, PyAny>> = Vec::with_capacity(count);
        let mut next_json = 0usize;
        for slot in self.slots {
            let item = match slot {
                Slot::Done(item) => item,
                Slot::Envelope(env) => {
                    let payload = match (env.ready, env.json) {
                        (Some(obj), _) => Ok(obj),
                        (None, Some(range)) => {
                            next_json += 1;
                            payloads.take(py, codec, &self.json, next_json - 1, range)
                        }
                        (None, None) => Ok(py.None().into_bound(py)),
                    };
                    match payload {
                        Ok(payload) => {
                            let [join_ref, ref_, topic, event] = env.fields;
                            let fields = [join_ref, ref_, topic, event, payload];
                            if self.plain {
                                plain_tuple(py, fields)?
                            } else {
                                new_message(py, fields)?
                            }
                        }
                        Err(err) => err.into_value(py).into_bound(py).into_any(),
                    }
                }
            };
            items.push(item);
        }
        // SAFETY: PyList_New returns a new reference or NULL with an error set.
        let out = unsafe { Bound::from_owned_ptr_or_err(py, ffi::PyList_New(n))? }.cast_into::<PyList>()?;
        for (index, item) in (0..n).zip(items) {
            // SAFETY: `index` < the list's length (one item per slot); SET_ITEM steals the
            // reference, and the slot held NULL. Nothing between PyList_New and the last
            // SET_ITEM runs Python code or allocates a Python object.
            unsafe { ffi::PyList_SET_ITEM(out.as_ptr(), index, item.into_ptr()) };
        }
        Ok(out)
    }

    /// The items as they are, for a client without a codec (raw frames only).
    pub fn finish_raw(self) -> PyResult<Bound<'py, PyList>> {
        let items = self.slots.into_iter().map(|slot| match slot {
            Slot::Done(item) => item,
            Slot::Envelope(_) => self.py.None().into_bound(self.py),
        });
        PyList::new(self.py, items)
    }

    fn decode_all_payloads(&mut self, codec: &Codec) -> Payloads<'py> {
        if self.json_count == 0 {
            return Payloads::None;
        }
        self.json.push(b']');
        if self.json_count == 1 || !codec.batch_loads() {
            return Payloads::OneByOne;
        }
        let decoded = codec.loads_batch(self.py, &mut self.json);
        match decoded.ok().and_then(|v| v.cast_into::<PyList>().ok()) {
            Some(list) if list.len() == self.json_count => Payloads::List(list),
            _ => Payloads::OneByOne,
        }
    }
}

/// `(join_ref, ref, topic, event, payload)` as an exact tuple, filled in place: pyo3's
/// `PyTuple::new` goes through an iterator with length checks (gain: see `finish`).
fn plain_tuple<'py>(py: Python<'py>, fields: [Bound<'py, PyAny>; 5]) -> PyResult<Bound<'py, PyAny>> {
    // SAFETY: PyTuple_New returns a new reference or NULL with an error set; each SET_ITEM
    // steals one field's reference into a slot of the fresh tuple, nothing else sees it before.
    unsafe {
        let tuple = Bound::from_owned_ptr_or_err(py, ffi::PyTuple_New(5))?;
        for (i, field) in (0..).zip(fields) {
            ffi::PyTuple_SET_ITEM(tuple.as_ptr(), i, field.into_ptr());
        }
        Ok(tuple)
    }
}

/// The decoded payloads of a batch.
enum Payloads<'py> {
    None,
    /// All decoded by one call.
    List(Bound<'py, PyList>),
    /// Decoded one by one (custom decoder, a single payload, or a bad payload in the batch).
    OneByOne,
}

impl<'py> Payloads<'py> {
    fn take(
        &mut self,
        py: Python<'py>,
        codec: &Codec,
        json: &[u8],
        index: usize,
        (start, end): (usize, usize),
    ) -> PyResult<Bound<'py, PyAny>> {
        match self {
            Self::List(list) => list.get_item(index),
            Self::OneByOne => codec.load_payload(py, &json[start..end]),
            Self::None => Ok(PyBytes::new(py, &[]).into_any()),
        }
    }
}
