//! `WsClient`: the client side of a WebSocket, without I/O, fused with the Phoenix decoder.
//!
//! One `feed` call per network read parses every WebSocket frame in it and decodes every
//! Phoenix frame, returning `Message`s in order, with a single call of the payload decoder.

use pyo3::gc::PyVisit;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString};
use pyo3::PyTraverseError;

use super::batch::BatchDecoder;
use super::codec::Codec;
use super::errors::{connect_error, randomness_error, ws_error};
use crate::frame::Header;
use crate::ws::{self, FeedError, FrameParser, HandshakeRequest, MaskKeys, Opcode, WsEvent};

/// A fresh `Sec-WebSocket-Key`: a random 16-byte nonce (RFC 6455 4.1), from the
/// connection's OS-keyed generator.
fn handshake_key(keys: &mut MaskKeys) -> String {
    use base64::Engine as _;
    let mut nonce = [0u8; 16];
    keys.fill(&mut nonce);
    base64::engine::general_purpose::STANDARD.encode(nonce)
}

impl SendQueue {
    /// The transport's move after a frame of `size` bytes was queued.
    fn reaction(&mut self, py: Python<'_>, size: usize) -> Reaction {
        let Some(writer) = self.writer.as_ref() else {
            return Reaction::Nothing;
        };
        let transport = || writer.transport.clone_ref(py);
        if self.write_paused {
            Reaction::Hold(transport(), size)
        } else if self.frames >= writer.flush_every {
            Reaction::Call(transport(), intern!(py, "_flush").clone().unbind())
        } else if !self.flush_scheduled {
            self.flush_scheduled = true;
            Reaction::Call(transport(), intern!(py, "_flush_soon").clone().unbind())
        } else {
            Reaction::Nothing
        }
    }
}

/// Past this capacity the queue's buffer is given back after a flush (a burst of large
/// frames should not pin its memory for the connection's life).
const QUEUE_KEPT: usize = 64 * 1024;

/// The client end of one WebSocket connection.
#[pyclass(module = "phoenix_fast._native")]
pub struct WsClient {
    codec: Option<Py<Codec>>,
    parser: FrameParser,
    key: String,
    offered: Vec<String>,
    /// Offer permessage-deflate in the handshake.
    compress: bool,
    handshake_buf: Vec<u8>,
    open: bool,
    protocol: Option<String>,
    outgoing: Vec<u8>,
    close_code: Option<u16>,
    close_reason: String,
    /// Masking keys: a CSPRNG keyed from the OS (why: rust/ws/mask.rs).
    rng: MaskKeys,
    /// Frames waiting for the network.
    queue: SendQueue,
}

/// Frames waiting for the network, masked and back to back (the transport takes them once
/// per loop turn, `take_queued`), and what queueing one sets off in the transport.
#[derive(Default)]
struct SendQueue {
    bytes: Vec<u8>,
    /// How many frames `bytes` holds.
    frames: usize,
    /// One Phoenix frame's text while it is framed (kept for its capacity).
    scratch: Vec<u8>,
    writer: Option<Writer>,
    /// Writing is paused (asyncio's buffer is past its high-water mark): frames are held.
    write_paused: bool,
    /// A flush is scheduled for this loop turn; the transport's flush clears it.
    flush_scheduled: bool,
}

/// The transport's side of `queue_fields`: the frame goes out with its next `_flush()`,
/// called from `_flush_soon()` at the end of the loop turn or at once past `flush_every`
/// frames; while writing is paused, `_hold(size)` hears of the frame instead. One reference
/// to the transport, its methods looked up when called (about once per 30 pushes): a bound
/// method or two kept per connection would cost every socket their memory.
struct Writer {
    transport: Py<PyAny>,
    flush_every: usize,
}

/// What queueing a frame asks of the transport, called once the client is no longer borrowed
/// (the transport's flush calls back into the client).
enum Reaction {
    Nothing,
    Call(Py<PyAny>, Py<PyString>),
    Hold(Py<PyAny>, usize),
}

impl Reaction {
    fn run(self, py: Python<'_>) -> PyResult<()> {
        match self {
            Reaction::Nothing => Ok(()),
            Reaction::Call(transport, method) => transport.call_method0(py, method).map(drop),
            Reaction::Hold(transport, size) => {
                transport.call_method1(py, intern!(py, "_hold"), (size,)).map(drop)
            }
        }
    }
}

impl WsClient {
    /// Parses frames and decodes messages from `data` into a list.
    fn feed_frames<'py>(&mut self, py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyList>> {
        let mut batch = BatchDecoder::for_read(py, data.len()).plain();
        let mut codec = self.codec.as_ref().map(|c| c.bind(py).borrow_mut());
        let mut control = Control::default();
        let result = self.parser.feed(data, |event| -> Result<(), std::convert::Infallible> {
            match event {
                WsEvent::Text(text) => match codec.as_deref_mut() {
                    Some(codec) => batch.push_str(codec, text),
                    None => batch.push_done(PyString::new(py, text).into_any()),
                },
                WsEvent::Binary(bytes) => match codec.as_deref_mut() {
                    Some(codec) => batch.push_binary(codec, bytes),
                    None => batch.push_done(PyBytes::new(py, bytes).into_any()),
                },
                WsEvent::Ping(payload) => control.pongs.push(payload.to_vec()),
                WsEvent::Pong(_) => {}
                WsEvent::Close { code, reason } => control.close = Some((code, reason.to_owned())),
            }
            Ok(())
        });
        self.apply_control(control);
        let items = match codec.as_deref() {
            Some(codec) => batch.finish(codec)?,
            None => batch.finish_raw()?,
        };
        match result {
            Ok(()) => Ok(items),
            Err(FeedError::Ws(err)) => Err(ws_error(&err)),
            Err(FeedError::Callback(never)) => match never {},
        }
    }

    /// Queues the answers to control frames: a pong per ping, and the close echo.
    fn apply_control(&mut self, control: Control) {
        for payload in control.pongs {
            let mask = self.rng.next_key();
            ws::write_frame(&mut self.outgoing, Opcode::Pong, &payload, mask);
        }
        if let Some((code, reason)) = control.close {
            self.close_code = code;
            self.close_reason = reason;
            let mask = self.rng.next_key();
            ws::write_close(&mut self.outgoing, code, "", mask);
        }
    }

    /// Encodes the Phoenix frame of these fields and queues its WebSocket frame; returns
    /// what the transport must do about it.
    fn queue_encoded(
        &mut self,
        py: Python<'_>,
        h: &Header<'_>,
        payload: &Bound<'_, PyAny>,
    ) -> PyResult<Reaction> {
        let Some(codec) = self.codec.as_ref() else {
            return Err(super::errors::encode_error_msg("this WsClient has no codec".to_owned()));
        };
        let mut body = std::mem::take(&mut self.queue.scratch);
        body.clear();
        let encoded = codec.bind(py).borrow().encode_raw(py, h, payload, &mut body);
        let result = encoded.map(|binary| {
            let queue = &mut self.queue;
            let before = queue.bytes.len();
            let opcode = if binary { Opcode::Binary } else { Opcode::Text };
            ws::write_frame(&mut queue.bytes, opcode, &body, self.rng.next_key());
            queue.frames += 1;
            queue.reaction(py, queue.bytes.len() - before)
        });
        self.queue.scratch = body;
        result
    }

    fn frame(&mut self, opcode: Opcode, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(payload.len() + 14);
        let mask = self.rng.next_key();
        ws::write_frame(&mut out, opcode, payload, mask);
        out
    }
}

#[derive(Default)]
struct Control {
    pongs: Vec<Vec<u8>>,
    close: Option<(Option<u16>, String)>,
}

#[pymethods]
impl WsClient {
    #[new]
    /// With `compress`, the handshake offers permessage-deflate and the server decides;
    /// compressed messages are then inflated on receipt (their inflated size is bounded by
    /// `max_message_size` too). Frames we send always go out uncompressed.
    #[pyo3(signature = (codec, max_message_size = ws::DEFAULT_MAX_MESSAGE_SIZE, *, compress = false))]
    fn new(codec: Option<Py<Codec>>, max_message_size: usize, compress: bool) -> PyResult<Self> {
        let mut rng = MaskKeys::from_os().map_err(|err| randomness_error(&err))?;
        Ok(Self {
            codec,
            parser: FrameParser::new(max_message_size),
            key: handshake_key(&mut rng),
            offered: Vec::new(),
            compress,
            handshake_buf: Vec::new(),
            open: false,
            protocol: None,
            outgoing: Vec::new(),
            close_code: None,
            close_reason: String::new(),
            rng,
            queue: SendQueue::default(),
        })
    }

    /// Connects `queue_fields` to its transport: `transport._flush_soon()` when the first
    /// frame of a loop turn is queued, `transport._flush()` when `flush_every` frames are, and
    /// `transport._hold(size)` for each frame queued while `write_paused`.
    #[pyo3(signature = (transport, flush_every))]
    fn set_writer(&mut self, transport: Py<PyAny>, flush_every: usize) {
        self.queue.writer = Some(Writer { transport, flush_every: flush_every.max(1) });
    }

    /// Writing is paused: frames queued are held (and reported to `hold`), not flushed.
    #[getter]
    fn write_paused(&self) -> bool {
        self.queue.write_paused
    }

    #[setter]
    fn set_write_paused(&mut self, paused: bool) {
        self.queue.write_paused = paused;
    }

    /// A flush is scheduled for this loop turn (the transport's flush clears it).
    #[getter]
    fn flush_scheduled(&self) -> bool {
        self.queue.flush_scheduled
    }

    #[setter]
    fn set_flush_scheduled(&mut self, scheduled: bool) {
        self.queue.flush_scheduled = scheduled;
    }

    /// Queues the masked frame carrying the Phoenix frame of these fields (binary for a
    /// bytes payload), then does what the writer asks (see `set_writer`): the whole of a
    /// transport's send, in one call per push.
    #[pyo3(signature = (join_ref, r#ref, topic, event, payload))]
    fn queue_fields(
        slf: &Bound<'_, Self>,
        join_ref: Option<&str>,
        r#ref: Option<&str>,
        topic: &str,
        event: &str,
        payload: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let py = slf.py();
        let h = Header { join_ref, ref_: r#ref, topic, event };
        let reaction = slf.borrow_mut().queue_encoded(py, &h, payload)?;
        reaction.run(py)
    }

    /// Queues a frame made elsewhere (a custom encoder's), then does what the writer asks,
    /// as `queue_fields` does.
    fn queue_frame(slf: &Bound<'_, Self>, frame: &[u8]) -> PyResult<()> {
        let py = slf.py();
        let reaction = {
            let mut client = slf.borrow_mut();
            let queue = &mut client.queue;
            queue.bytes.extend_from_slice(frame);
            queue.frames += 1;
            queue.reaction(py, frame.len())
        };
        reaction.run(py)
    }

    /// Queues a frame the caller flushes at once, even while writing is paused (a close, a
    /// pong): nothing is scheduled or held for it.
    fn queue_control(&mut self, frame: &[u8]) {
        self.queue.bytes.extend_from_slice(frame);
        self.queue.frames += 1;
    }

    /// `(frames, data)` of everything queued, and the queue emptied; None when empty.
    fn take_queued<'py>(&mut self, py: Python<'py>) -> Option<(usize, Bound<'py, PyBytes>)> {
        let queue = &mut self.queue;
        if queue.frames == 0 {
            return None;
        }
        let data = PyBytes::new(py, &queue.bytes);
        let frames = std::mem::take(&mut queue.frames);
        queue.bytes.clear();
        if queue.bytes.capacity() > QUEUE_KEPT {
            queue.bytes = Vec::new();
        }
        Some((frames, data))
    }

    /// Drops everything queued.
    fn clear_queued(&mut self) {
        self.queue.bytes = Vec::new();
        self.queue.frames = 0;
    }

    /// Bytes queued and not yet taken.
    #[getter]
    fn queued_size(&self) -> usize {
        self.queue.bytes.len()
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        if let Some(codec) = &self.codec {
            visit.call(codec)?;
        }
        if let Some(writer) = &self.queue.writer {
            visit.call(&writer.transport)?;
        }
        Ok(())
    }

    fn __clear__(&mut self) {
        self.queue.writer = None;
    }

    /// The HTTP upgrade request (a fresh key is part of it).
    #[pyo3(signature = (host, path, protocols, headers))]
    fn handshake_request<'py>(
        &mut self,
        py: Python<'py>,
        host: &str,
        path: &str,
        protocols: Vec<String>,
        headers: Vec<(String, String)>,
    ) -> Bound<'py, PyBytes> {
        let protocol_refs: Vec<&str> = protocols.iter().map(String::as_str).collect();
        let header_refs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let req = HandshakeRequest {
            host,
            path,
            key: &self.key,
            protocols: &protocol_refs,
            headers: &header_refs,
            offer_deflate: self.compress,
        };
        let mut out = Vec::with_capacity(256);
        ws::write_handshake_request(&req, &mut out);
        self.offered = protocols;
        PyBytes::new(py, &out)
    }

    /// Feeds the server's handshake answer. None until it is complete; then the messages in
    /// any bytes that followed the headers.
    fn receive_handshake<'py>(
        &mut self,
        py: Python<'py>,
        data: &[u8],
    ) -> PyResult<Option<Bound<'py, PyList>>> {
        self.handshake_buf.extend_from_slice(data);
        let offered: Vec<&str> = self.offered.iter().map(String::as_str).collect();
        let parsed =
            ws::parse_handshake_response_offering(&self.handshake_buf, &self.key, &offered, self.compress);
        let response = match parsed {
            Ok(Some(response)) => response,
            Ok(None) => return Ok(None),
            Err(ws::WsError::BadStatus { status }) => return Err(connect_error(status)),
            Err(err) => return Err(ws_error(&err)),
        };
        self.open = true;
        self.protocol = response.protocol;
        if let Some(params) = response.deflate {
            self.parser.enable_deflate(params);
        }
        let rest = self.handshake_buf.split_off(response.consumed);
        self.handshake_buf = Vec::new();
        self.feed_frames(py, &rest).map(Some)
    }

    /// Every complete message in `data`: `Message`s (or `DecodeError`s in their place) with a
    /// codec; `str` and `bytes` frames without one. Pings are answered (see `take_outgoing`).
    fn feed<'py>(&mut self, py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyList>> {
        self.feed_frames(py, data)
    }

    /// Control frames waiting to be written (pongs, the close echo); empty when none.
    fn take_outgoing<'py>(&mut self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let out = PyBytes::new(py, &self.outgoing);
        self.outgoing.clear();
        out
    }

    /// The negotiated subprotocol, once the handshake is done.
    #[getter]
    fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// Whether permessage-deflate was negotiated (the server may then compress messages).
    #[getter]
    fn compressed(&self) -> bool {
        self.parser.deflate_params().is_some()
    }

    /// The negotiated extension as a `Sec-WebSocket-Extensions` value
    /// (`permessage-deflate; server_no_context_takeover` say), or None.
    #[getter]
    fn extensions(&self) -> Option<String> {
        self.parser.deflate_params().map(|p| p.to_string())
    }

    /// Whether the server sent a Close frame.
    #[getter]
    fn closed(&self) -> bool {
        self.parser.is_closed()
    }

    #[getter]
    fn close_code(&self) -> Option<u16> {
        self.close_code
    }

    #[getter]
    fn close_reason(&self) -> &str {
        &self.close_reason
    }

    /// A masked frame carrying the Phoenix frame of these fields (binary for a bytes payload).
    #[pyo3(signature = (join_ref, ref_, topic, event, payload))]
    fn encode<'py>(
        &mut self,
        py: Python<'py>,
        join_ref: Option<&str>,
        ref_: Option<&str>,
        topic: &str,
        event: &str,
        payload: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let Some(codec) = self.codec.as_ref() else {
            return Err(super::errors::encode_error_msg("this WsClient has no codec".to_owned()));
        };
        let mut body = Vec::with_capacity(128);
        let h = Header { join_ref, ref_, topic, event };
        let binary = codec.bind(py).borrow().encode_raw(py, &h, payload, &mut body)?;
        let opcode = if binary { Opcode::Binary } else { Opcode::Text };
        Ok(PyBytes::new(py, &self.frame(opcode, &body)))
    }

    /// A masked text frame.
    fn frame_text<'py>(
        &mut self,
        py: Python<'py>,
        data: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let bytes: Vec<u8> = if let Ok(text) = data.cast::<PyString>() {
            text.to_str()?.as_bytes().to_vec()
        } else {
            data.extract::<Vec<u8>>()?
        };
        Ok(PyBytes::new(py, &self.frame(Opcode::Text, &bytes)))
    }

    /// A masked binary frame.
    fn frame_binary<'py>(&mut self, py: Python<'py>, data: &[u8]) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.frame(Opcode::Binary, data))
    }

    /// A masked ping frame.
    #[pyo3(signature = (data = b"".as_slice()))]
    fn frame_ping<'py>(&mut self, py: Python<'py>, data: &[u8]) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.frame(Opcode::Ping, data))
    }

    /// A masked close frame.
    #[pyo3(signature = (code = 1000, reason = ""))]
    fn frame_close<'py>(&mut self, py: Python<'py>, code: u16, reason: &str) -> Bound<'py, PyBytes> {
        let mut out = Vec::with_capacity(reason.len() + 16);
        let mask = self.rng.next_key();
        ws::write_close(&mut out, Some(code), reason, mask);
        PyBytes::new(py, &out)
    }
}
