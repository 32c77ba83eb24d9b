//! `Codec`: Phoenix frames to `Message` records and back, with a pluggable payload decoder.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyList, PyMemoryView, PyString};

use super::batch::BatchDecoder;
use super::dump::write_simple;
use super::errors::{
    decode_error, decode_error_msg, encode_error, encode_error_msg, serializer_version_error,
};
use super::message::new_message;
use super::payload::{decode_simple, decode_simple_prefix};
use super::strings::{Field, StringCache};
use crate::frame::{self, Frame, Header, Payload};
use crate::longpoll::parse_poll_body;

/// What `Codec::simple_v2` made of a V2 text frame.
pub enum SimpleV2<'py, 'a> {
    /// Its fields and its payload, decoded in one pass.
    Decoded([Bound<'py, PyAny>; 4], Bound<'py, PyAny>),
    /// Its payload is not of the simple shapes: the frame (or its error) as `parse_str` gives
    /// it, without parsing the head again, and with the payload skipped from where the
    /// payload decoder gave up rather than from its start. It was parsed twice; for the
    /// frames of `bench_receive.py --payload float` (a fraction in the payload's last
    /// object), per message S1 22,099 -> 20,571 instructions, S3 21,383 -> 20,022: the head
    /// once 446 and 372 of it, the skip from the stop 1,094 and 981 (callgrind).
    Parsed(PyResult<Frame<'a>>),
    /// Not for this path (V1, a custom decoder, a head or a tail the parsers refuse):
    /// `parse_str` decodes it, and gives the errors.
    General,
}

/// Encodes and decodes Phoenix frames of one serializer version.
///
/// Payloads are decoded with `loads(bytes)` and encoded with `dumps(obj) -> bytes | str`.
// four independent facts about the codec's payload functions, not a state machine
#[allow(clippy::struct_excessive_bools)]
#[pyclass(module = "phoenix_fast._native")]
pub struct Codec {
    v2: bool,
    loads: Py<PyAny>,
    dumps: Py<PyAny>,
    /// Whether `loads` may decode many payloads at once as one JSON array (true for orjson;
    /// a custom decoder is called once per payload, as its author expects).
    batch: bool,
    /// `loads` is orjson's, which reads its argument and keeps nothing of it (its errors copy
    /// the document into a `str`): a batch may then be handed over as a view of our buffer.
    zero_copy: bool,
    strings: StringCache,
    /// `dumps` is orjson's: payloads of the simple shapes are written natively (`dump.rs`).
    native_dumps: bool,
}

impl Codec {
    /// Parses the envelope of a text frame given as bytes (checked for UTF-8 first).
    pub fn parse_text<'a>(&self, raw: &'a [u8]) -> PyResult<Frame<'a>> {
        let parsed = if self.v2 { frame::decode_v2_text(raw) } else { frame::decode_v1_text(raw) };
        parsed.map_err(|e| decode_error(&e))
    }

    /// Parses the envelope of a text frame.
    pub fn parse_str<'a>(&self, raw: &'a str) -> PyResult<Frame<'a>> {
        let parsed = if self.v2 { frame::decode_v2_str(raw) } else { frame::decode_v1_str(raw) };
        parsed.map_err(|e| decode_error(&e))
    }

    /// Parses a binary frame's envelope.
    pub fn parse_binary<'a>(&self, raw: &'a [u8]) -> PyResult<Frame<'a>> {
        if !self.v2 {
            return Err(decode_error_msg("binary frames need the V2 serializer".to_owned()));
        }
        frame::decode_binary(raw).map_err(|e| decode_error(&e))
    }

    pub fn batch_loads(&self) -> bool {
        self.batch
    }

    /// A V2 text frame whose payload is of the simple shapes, decoded in one pass: the
    /// envelope up to the payload, the payload (which finds its own end, so it is not
    /// skipped first), the frame's end. Per message in WsClient.feed, S1 3,352 -> 2,931
    /// instructions, S3 3,152 -> 2,771 (callgrind, issue 17). See `SimpleV2` for the rest.
    #[inline]
    pub fn simple_v2<'py, 'a>(&mut self, py: Python<'py>, raw: &'a str) -> SimpleV2<'py, 'a> {
        if !self.v2 || !self.zero_copy {
            return SimpleV2::General;
        }
        let head = match frame::fast_v2_head(raw) {
            Some(head) => head,
            None => match frame::decode_v2_head(raw) {
                Ok(head) => head,
                Err(_) => return SimpleV2::General,
            },
        };
        let buf = raw.as_bytes();
        let start = head.payload_start;
        match decode_simple_prefix(py, &buf[start..], &mut self.strings) {
            Ok((payload, len)) => {
                if frame::check_v2_tail(buf, start + len).is_err() {
                    return SimpleV2::General;
                }
                let fields = self.envelope_fields(py, &head.with_payload(Payload::Binary(&[])));
                SimpleV2::Decoded(fields, payload)
            }
            Err(stopped) => {
                let parsed = frame::decode_v2_rest(raw, head, start + stopped.pos, stopped.open);
                SimpleV2::Parsed(parsed.map_err(|e| decode_error(&e)))
            }
        }
    }

    /// Whether payloads go through `simple_payload` once their frame is parsed: only for V1,
    /// since a V2 frame whose payload is simple was taken by `simple_v2` already.
    pub fn simple_after_parse(&self) -> bool {
        !self.v2
    }

    /// The payload decoded without orjson when it is of the simple shapes (see
    /// `payload.rs`), and only when orjson is the decoder: a custom one sees every payload.
    #[inline]
    pub fn simple_payload<'py>(&mut self, py: Python<'py>, json: &[u8]) -> Option<Bound<'py, PyAny>> {
        if !self.zero_copy {
            return None;
        }
        decode_simple(py, json, &mut self.strings)
    }

    /// The join_ref, ref, topic and event of a frame as Python objects. The fields that repeat
    /// from frame to frame (join_ref, topic, event) come from the string cache.
    pub fn envelope_fields<'py>(&mut self, py: Python<'py>, f: &Frame<'_>) -> [Bound<'py, PyAny>; 4] {
        let join_ref = match f.join_ref.as_deref() {
            Some(s) => self.strings.get_field(py, s, Field::JoinRef).into_any(),
            None => py.None().into_bound(py),
        };
        let ref_ = match f.ref_.as_deref() {
            Some(s) => PyString::new(py, s).into_any(),
            None => py.None().into_bound(py),
        };
        let topic = self.strings.get_field(py, &f.topic, Field::Topic).into_any();
        let event = self.strings.get_field(py, &f.event, Field::Event).into_any();
        [join_ref, ref_, topic, event]
    }

    /// The payload of a binary frame (bytes, or the `{status, response}` of a binary reply).
    pub fn non_json_payload<'py>(
        &mut self,
        py: Python<'py>,
        payload: &Payload<'_>,
    ) -> PyResult<Bound<'py, PyAny>> {
        match payload {
            Payload::Json(bytes) => self.load_payload(py, bytes),
            Payload::Binary(bytes) => Ok(PyBytes::new(py, bytes).into_any()),
            Payload::BinaryReply { status, response } => {
                let dict = PyDict::new(py);
                dict.set_item(pyo3::intern!(py, "status"), self.strings.get(py, status))?;
                dict.set_item(pyo3::intern!(py, "response"), PyBytes::new(py, response))?;
                Ok(dict.into_any())
            }
        }
    }

    /// Turns a decoded frame into a `Message`, decoding its payload.
    pub fn message_of<'py>(&mut self, py: Python<'py>, f: &Frame<'_>) -> PyResult<Bound<'py, PyAny>> {
        let payload = self.non_json_payload(py, &f.payload)?;
        let [join_ref, ref_, topic, event] = self.envelope_fields(py, f);
        new_message(py, [join_ref, ref_, topic, event, payload])
    }

    /// Calls the payload decoder on `bytes`, errors untouched.
    pub fn loads_raw<'py>(&self, py: Python<'py>, bytes: &[u8]) -> PyResult<Bound<'py, PyAny>> {
        self.loads.bind(py).call1((PyBytes::new(py, bytes),))
    }

    /// Calls the payload decoder on a whole batch (a JSON array of payloads), errors
    /// untouched. For orjson, the batch is a read-only `memoryview` of `buf`, not a copy
    /// (a `bytes` copy of the buffer cost 120 instructions per S1 message: callgrind, issue
    /// 17); any other decoder gets `bytes`, since it might keep what it is given.
    pub fn loads_batch<'py>(&self, py: Python<'py>, buf: &mut Vec<u8>) -> PyResult<Bound<'py, PyAny>> {
        if self.zero_copy {
            self.loads_view(py, buf)
        } else {
            self.loads_raw(py, buf)
        }
    }

    /// `loads` on a `memoryview` of `buf`. The view is released after the call, so had the
    /// decoder kept it, it would get a `ValueError` on use, never the freed buffer.
    fn loads_view<'py>(&self, py: Python<'py>, buf: &mut Vec<u8>) -> PyResult<Bound<'py, PyAny>> {
        let len = isize::try_from(buf.len()).map_err(|_| decode_error_msg("batch too large".to_owned()))?;
        // SAFETY: PyMemoryView_FromMemory returns a new reference or NULL with an error set.
        // The view points into `buf`, which is only read (PyBUF_READ) and stays untouched
        // until the view is released below; if it cannot be, the memory is leaked instead.
        let view = unsafe {
            Bound::from_owned_ptr_or_err(
                py,
                ffi::PyMemoryView_FromMemory(buf.as_mut_ptr().cast(), len, ffi::PyBUF_READ),
            )?
        };
        let result = self.loads.bind(py).call1((&view,));
        if view.call_method0(pyo3::intern!(py, "release")).is_err() {
            // The decoder kept a buffer exported from the view (only orjson gets a view, so
            // this is a defence, not a path taken), so the view cannot be released and may
            // still be read: its memory must stay valid for good.
            let copy = buf.clone();
            std::mem::forget(std::mem::replace(buf, copy));
        }
        result
    }

    /// Decodes one payload; a failure becomes a `DecodeError` with the decoder's error as cause.
    pub fn load_payload<'py>(&self, py: Python<'py>, bytes: &[u8]) -> PyResult<Bound<'py, PyAny>> {
        self.loads_raw(py, bytes).map_err(|err| {
            let wrapped = decode_error_msg(format!("payload is not valid JSON: {}", err.value(py)));
            wrapped.set_cause(py, Some(err));
            wrapped
        })
    }

    fn decode_any<'py>(&mut self, py: Python<'py>, raw: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        if let Ok(text) = raw.cast::<PyString>() {
            let f = self.parse_str(text.to_str()?)?;
            return self.message_of(py, &f);
        }
        if let Ok(bytes) = raw.cast::<PyBytes>() {
            let f = self.parse_binary(bytes.as_bytes())?;
            return self.message_of(py, &f);
        }
        Err(not_a_frame(raw))
    }

    /// Appends `dumps(payload)` to `out`.
    fn dump_payload(&self, py: Python<'_>, payload: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
        let dumped = self.dumps.bind(py).call1((payload,)).map_err(|err| {
            let wrapped = encode_error_msg(format!("payload could not be encoded: {}", err.value(py)));
            wrapped.set_cause(py, Some(err));
            wrapped
        })?;
        if let Ok(bytes) = dumped.cast::<PyBytes>() {
            out.extend_from_slice(bytes.as_bytes());
            return Ok(());
        }
        if let Ok(text) = dumped.cast::<PyString>() {
            out.extend_from_slice(text.to_str()?.as_bytes());
            return Ok(());
        }
        Err(encode_error_msg("dumps must return bytes or str".to_owned()))
    }

    /// Appends the payload's JSON: written here when `dumps` is orjson's and the payload is of
    /// the simple shapes (`dump.rs`; callgrind, S4: 29,596 -> 29,075 instructions a round
    /// trip), else by `dumps`.
    fn write_payload(&self, py: Python<'_>, payload: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
        let start = out.len();
        if self.native_dumps && write_simple(payload, out) {
            return Ok(());
        }
        out.truncate(start);
        self.dump_payload(py, payload, out)
    }

    /// Encodes a frame into raw bytes; returns whether it is a binary frame.
    pub fn encode_raw(
        &self,
        py: Python<'_>,
        h: &Header<'_>,
        payload: &Bound<'_, PyAny>,
        out: &mut Vec<u8>,
    ) -> PyResult<bool> {
        if let Some(binary) = binary_payload(payload)? {
            if !self.v2 {
                return Err(encode_error_msg("binary payloads need the V2 serializer".to_owned()));
            }
            frame::encode_binary_push(out, h, &binary).map_err(|e| encode_error(&e))?;
            return Ok(true);
        }
        let write = |out: &mut Vec<u8>| self.write_payload(py, payload, out);
        if self.v2 {
            frame::encode_v2_text_with(out, h, write)?;
        } else {
            frame::encode_v1_text_with(out, h, write)?;
        }
        Ok(false)
    }
}

/// The bytes of a binary payload (bytes, bytearray or memoryview), or None for a JSON payload.
fn binary_payload(payload: &Bound<'_, PyAny>) -> PyResult<Option<Vec<u8>>> {
    if let Ok(bytes) = payload.cast::<PyBytes>() {
        return Ok(Some(bytes.as_bytes().to_vec()));
    }
    if let Ok(array) = payload.cast::<PyByteArray>() {
        return Ok(Some(array.to_vec()));
    }
    if payload.cast::<PyMemoryView>().is_ok() {
        let bytes = payload.call_method0(pyo3::intern!(payload.py(), "tobytes"))?;
        return Ok(Some(bytes.cast::<PyBytes>()?.as_bytes().to_vec()));
    }
    Ok(None)
}

/// Whether `function` is orjson's function `name` itself.
fn is_orjson(py: Python<'_>, name: &str, function: &Py<PyAny>) -> bool {
    py.import("orjson").and_then(|m| m.getattr(name)).is_ok_and(|f| f.is(function.bind(py)))
}

#[cold]
fn not_a_frame(raw: &Bound<'_, PyAny>) -> PyErr {
    let name = raw.get_type().name().map_or_else(|_| "?".to_owned(), |n| n.to_string());
    decode_error_msg(format!("a frame must be str (text) or bytes (binary), not {name}"))
}

#[pymethods]
impl Codec {
    #[new]
    #[pyo3(signature = (vsn_major, loads, dumps, batch_loads = false))]
    fn new(
        py: Python<'_>,
        vsn_major: u8,
        loads: Py<PyAny>,
        dumps: Py<PyAny>,
        batch_loads: bool,
    ) -> PyResult<Self> {
        if !matches!(vsn_major, 1 | 2) {
            return Err(serializer_version_error(vsn_major));
        }
        let zero_copy = batch_loads && is_orjson(py, "loads", &loads);
        let native_dumps = is_orjson(py, "dumps", &dumps);
        Ok(Self {
            v2: vsn_major == 2,
            loads,
            dumps,
            batch: batch_loads,
            zero_copy,
            native_dumps,
            strings: StringCache::default(),
        })
    }

    /// The major serializer version: 1 or 2.
    #[getter]
    fn vsn_major(&self) -> u8 {
        if self.v2 {
            2
        } else {
            1
        }
    }

    /// Makes `text` the string object decoded frames carry for that text (see
    /// `StringCache::remember`).
    fn remember(&mut self, text: &Bound<'_, PyString>) -> PyResult<()> {
        self.strings.remember(text)
    }

    /// Decodes one frame: `str` is a text frame, `bytes` a binary frame.
    fn decode<'py>(&mut self, py: Python<'py>, raw: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        self.decode_any(py, raw)
    }

    /// Decodes one text frame given as UTF-8 bytes (as a transport reads it).
    fn decode_text<'py>(&mut self, py: Python<'py>, raw: &[u8]) -> PyResult<Bound<'py, PyAny>> {
        let f = self.parse_text(raw)?;
        self.message_of(py, &f)
    }

    /// Decodes every frame of a list in one call. A frame that fails to decode is replaced by
    /// its `DecodeError` instance, so one bad frame never costs the others.
    fn decode_batch<'py>(
        &mut self,
        py: Python<'py>,
        frames: &Bound<'py, PyList>,
    ) -> PyResult<Bound<'py, PyList>> {
        let mut batch = BatchDecoder::with_capacity(py, frames.len());
        for raw in frames.iter() {
            if let Ok(text) = raw.cast::<PyString>() {
                batch.push_str(self, text.to_str()?);
            } else if let Ok(bytes) = raw.cast::<PyBytes>() {
                batch.push_binary(self, bytes.as_bytes());
            } else {
                batch.push_done(not_a_frame(&raw).into_value(py).into_bound(py).into_any());
            }
        }
        batch.finish(self)
    }

    /// Decodes a LongPoll poll answer in one call: `(status, token, items)`, the items as
    /// `decode_batch` gives them but as plain tuples (the client's receive path). On V2 a message that is not a JSON array is a binary frame
    /// (the server passes binary frames through as text). A malformed body raises `DecodeError`.
    fn decode_poll<'py>(
        &mut self,
        py: Python<'py>,
        raw: &[u8],
    ) -> PyResult<(Option<i64>, Option<String>, Bound<'py, PyList>)> {
        let text = simdutf8::basic::from_utf8(raw)
            .map_err(|_| decode_error_msg("LongPoll body is not valid UTF-8".to_owned()))?;
        let body = parse_poll_body(text).map_err(|e| decode_error(&e))?;
        let mut batch = BatchDecoder::with_capacity(py, body.messages.len()).plain();
        for message in &body.messages {
            if self.v2 && !message.starts_with('[') {
                batch.push_binary(self, message.as_bytes());
            } else {
                batch.push_str(self, message);
            }
        }
        let items = batch.finish(self)?;
        Ok((body.status, body.token.map(std::borrow::Cow::into_owned), items))
    }

    /// Encodes a frame: `str` for a text frame, `bytes` for a binary one (a bytes-like payload).
    #[pyo3(signature = (join_ref, ref_, topic, event, payload))]
    fn encode<'py>(
        &self,
        py: Python<'py>,
        join_ref: Option<&str>,
        ref_: Option<&str>,
        topic: &str,
        event: &str,
        payload: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut out = Vec::new();
        let h = Header { join_ref, ref_, topic, event };
        if self.encode_raw(py, &h, payload, &mut out)? {
            return Ok(PyBytes::new(py, &out).into_any());
        }
        let text = std::str::from_utf8(&out)
            .map_err(|_| encode_error_msg("dumps returned bytes that are not UTF-8".to_owned()))?;
        Ok(PyString::new(py, text).into_any())
    }

    /// Encodes a frame to bytes for a transport: `(data, is_binary)`.
    #[pyo3(signature = (join_ref, ref_, topic, event, payload))]
    fn encode_bytes<'py>(
        &self,
        py: Python<'py>,
        join_ref: Option<&str>,
        ref_: Option<&str>,
        topic: &str,
        event: &str,
        payload: &Bound<'py, PyAny>,
    ) -> PyResult<(Bound<'py, PyBytes>, bool)> {
        let mut out = Vec::new();
        let h = Header { join_ref, ref_, topic, event };
        let binary = self.encode_raw(py, &h, payload, &mut out)?;
        Ok((PyBytes::new(py, &out), binary))
    }
}
