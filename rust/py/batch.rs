//! Decoding many frames with ONE call of the payload decoder.
//!
//! Calling `orjson.loads` once per frame costs a bytes object and a Python call per message,
//! more than parsing a small payload itself. So the envelopes are parsed first, every JSON
//! payload is copied into one buffer as the elements of a JSON array, and that array is decoded
//! in a single call. If the array fails to decode (one bad payload), each payload is decoded
//! alone, so the bad one becomes a `DecodeError` and the others are kept.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};

use super::codec::Codec;
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

    /// Builds plain tuples `(join_ref, ref, topic, event, payload)` rather than `Message`s.
    pub fn plain(mut self) -> Self {
        self.plain = true;
        self
    }

    /// Adds a text frame given as bytes (checked for UTF-8).
    pub fn push_text(&mut self, codec: &mut Codec, raw: &[u8]) {
        match codec.parse_text(raw) {
            Ok(frame) => self.push_frame(codec, &frame),
            Err(err) => self.push_error(err),
        }
    }

    /// Adds a text frame whose bytes were already validated as UTF-8 (by the WebSocket parser).
    pub fn push_text_validated(&mut self, codec: &mut Codec, raw: &[u8]) {
        match std::str::from_utf8(raw) {
            Ok(text) => self.push_str(codec, text),
            Err(_) => self.push_text(codec, raw),
        }
    }

    /// Adds a text frame.
    pub fn push_str(&mut self, codec: &mut Codec, raw: &str) {
        match codec.parse_str(raw) {
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
            Payload::Json(bytes) => (Some(self.append_json(bytes)), None),
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
        let out = PyList::empty(py); // filled by append: a list built item by item is never half-initialised
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
                                PyTuple::new(py, fields)?.into_any()
                            } else {
                                new_message(py, fields)?
                            }
                        }
                        Err(err) => err.into_value(py).into_bound(py).into_any(),
                    }
                }
            };
            out.append(item)?;
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
        let decoded = codec.loads_raw(self.py, &self.json);
        match decoded.ok().and_then(|v| v.cast_into::<PyList>().ok()) {
            Some(list) if list.len() == self.json_count => Payloads::List(list),
            _ => Payloads::OneByOne,
        }
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
