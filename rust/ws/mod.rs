//! Client side of RFC 6455 WebSocket, Sans-I/O: bytes in, events out; bytes out.
//!
//! Nothing here touches a socket. The caller writes [`write_handshake_request`]'s bytes,
//! reads until [`parse_handshake_response`] returns a response, then feeds every later
//! byte to a [`FrameParser`] and sends frames built with [`write_frame`] / [`write_close`].
//!
//! The parser is on the hot path (hundreds of thousands of small frames per second): a
//! complete unfragmented frame is handed to the callback as a slice of the caller's input,
//! with no copy and no allocation. Bytes are copied only for a frame split across reads and
//! for fragmented messages.
//!
//! Choices where the RFC leaves room:
//! * The only extension is permessage-deflate (RFC 7692), offered only when the caller asks
//!   ([`HandshakeRequest::offer_deflate`]) and then only when the server accepts it. Without
//!   it any RSV bit is an error; with it RSV1 marks a compressed message (see [`Deflate`]).
//!   Client frames always go out uncompressed, which RFC 7692 allows: whether a message is
//!   compressed is the sender's choice.
//! * Non-minimal length encodings are rejected ([`WsError::NonMinimalLength`]): RFC 6455 5.2
//!   says the minimal encoding MUST be used, and no real server sends anything else.
//! * `max_message_size` bounds data messages only; control frames are bounded by the RFC's
//!   125 bytes. A compressed message is bounded both on the wire and once inflated.
//! * Text is validated as UTF-8 once the whole message is reassembled, not per fragment, so a
//!   character split across fragments is fine.

use std::fmt;

mod deflate;
mod handshake;
mod mask;

pub use deflate::{Deflate, DeflateParams};
pub use handshake::{
    accept_key, parse_handshake_response, parse_handshake_response_offering, write_handshake_request,
    HandshakeRequest, HandshakeResponse,
};
pub use mask::MaskKeys;

/// Default bound on one data message (after reassembly), in bytes.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 64 * 1024 * 1024;

/// Largest handshake response head we accept; servers send well under 1 KiB.
const MAX_HANDSHAKE_SIZE: usize = 16 * 1024;
/// Header slots for httparse; a 101 response has a handful.
const MAX_HANDSHAKE_HEADERS: usize = 128;
/// GUID appended to the key for Sec-WebSocket-Accept (RFC 6455 1.3).
const WS_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// FIN flag in the first header byte.
const FIN_BIT: u8 = 0x80;
/// RSV1-3 flags in the first header byte.
const RSV_BITS: u8 = 0x70;
/// RSV1: "this message is compressed" under permessage-deflate (RFC 7692 6).
const RSV1_BIT: u8 = 0x40;
/// Opcode in the first header byte.
const OPCODE_BITS: u8 = 0x0F;
/// MASK flag in the second header byte.
const MASK_BIT: u8 = 0x80;
/// 7-bit length value announcing a 16-bit length.
const LEN_16: u8 = 126;
/// 7-bit length value announcing a 64-bit length.
const LEN_64: u8 = 127;
/// Largest control frame payload (RFC 6455 5.5).
const MAX_CONTROL_PAYLOAD: usize = 125;
/// Largest close reason: the control payload minus the 2-byte code.
const MAX_CLOSE_REASON: usize = MAX_CONTROL_PAYLOAD - 2;
/// Buffers whose capacity grew beyond this are freed once empty.
const SHRINK_THRESHOLD: usize = 1024 * 1024;
/// Largest payload length a frame may declare regardless of the configured maximum: the RFC
/// requires the 64-bit length's top bit to be clear, and it also keeps `header + payload`
/// from overflowing `usize`.
const MAX_FRAME_PAYLOAD: u64 = (usize::MAX >> 1) as u64;

/// Everything that can go wrong in the handshake or in the frames the server sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsError {
    /// The handshake response status was not 101 (e.g. 403 when the server refuses).
    BadStatus {
        /// The HTTP status the server answered.
        status: u16,
    },
    /// Malformed HTTP response, or missing/incorrect `Upgrade`/`Connection` headers.
    BadHandshake(String),
    /// `Sec-WebSocket-Accept` missing, duplicated or not matching our key.
    BadAccept,
    /// The server selected a subprotocol we did not offer.
    BadSubprotocol(String),
    /// The response head exceeded 16 KiB.
    HandshakeTooLarge,
    /// An RSV bit was set although no extension was negotiated (or RSV2/RSV3 under
    /// permessage-deflate, which uses RSV1 only).
    ReservedBits,
    /// RSV1 (compressed) on a control or continuation frame (RFC 7692 6.1).
    CompressedNonDataFrame,
    /// A compressed message was not a valid DEFLATE stream.
    BadCompressedData,
    /// An opcode reserved by RFC 6455 (3-7, 11-15).
    ReservedOpcode(u8),
    /// A server frame had the mask bit set (RFC 6455 5.1 forbids it).
    MaskedServerFrame,
    /// A control frame declared more than 125 bytes of payload.
    ControlFrameTooLong,
    /// A control frame had FIN clear.
    FragmentedControl,
    /// A continuation frame arrived with no fragmented message in progress.
    UnexpectedContinuation,
    /// A new Text/Binary frame arrived while a fragmented message was in progress.
    ExpectedContinuation,
    /// A frame, or the fragmented message so far plus this frame, exceeds the maximum.
    MessageTooLarge {
        /// Declared size: the frame's length, plus the fragments before it.
        size: u64,
        /// The parser's `max_message_size`.
        max: usize,
    },
    /// A payload length was not encoded in the minimal number of bytes.
    NonMinimalLength,
    /// A text message or a close reason was not valid UTF-8.
    InvalidUtf8,
    /// A close code that may not appear on the wire (RFC 6455 7.4).
    BadCloseCode(u16),
    /// A close payload of exactly one byte (a code needs two).
    BadClosePayload,
}

impl WsError {
    /// Whether the error comes from the opening handshake rather than from a frame.
    pub fn is_handshake(&self) -> bool {
        matches!(
            self,
            Self::BadStatus { .. }
                | Self::BadHandshake(_)
                | Self::BadAccept
                | Self::BadSubprotocol(_)
                | Self::HandshakeTooLarge
        )
    }
}

impl fmt::Display for WsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_handshake() {
            f.write_str("WebSocket handshake failed: ")?;
        } else {
            f.write_str("WebSocket protocol error: ")?;
        }
        match self {
            Self::BadStatus { status } => {
                write!(f, "server answered HTTP {status} instead of 101 Switching Protocols")
            }
            Self::BadHandshake(why) => f.write_str(why),
            Self::BadAccept => f.write_str("Sec-WebSocket-Accept is missing or does not match the key sent"),
            Self::BadSubprotocol(p) => {
                write!(f, "server selected subprotocol {p:?}, which the client did not offer")
            }
            Self::HandshakeTooLarge => {
                write!(f, "response headers exceed {MAX_HANDSHAKE_SIZE} bytes")
            }
            Self::ReservedBits => f.write_str("reserved bits set in a frame header"),
            Self::CompressedNonDataFrame => {
                f.write_str("compressed bit (RSV1) set on a control or continuation frame")
            }
            Self::BadCompressedData => f.write_str("compressed message is not valid DEFLATE data"),
            Self::ReservedOpcode(op) => write!(f, "reserved opcode {op:#x}"),
            Self::MaskedServerFrame => f.write_str("the server sent a masked frame"),
            Self::ControlFrameTooLong => f.write_str("control frame payload longer than 125 bytes"),
            Self::FragmentedControl => f.write_str("fragmented control frame"),
            Self::UnexpectedContinuation => f.write_str("continuation frame without a message in progress"),
            Self::ExpectedContinuation => {
                f.write_str("new data frame while a fragmented message is in progress")
            }
            Self::MessageTooLarge { size, max } => {
                write!(f, "message of {size} bytes exceeds the maximum of {max} bytes")
            }
            Self::NonMinimalLength => {
                f.write_str("payload length not encoded in the minimal number of bytes")
            }
            Self::InvalidUtf8 => f.write_str("text message or close reason is not valid UTF-8"),
            Self::BadCloseCode(code) => write!(f, "invalid close code {code}"),
            Self::BadClosePayload => f.write_str("close frame payload of 1 byte"),
        }
    }
}

impl std::error::Error for WsError {}

/// Frame opcodes defined by RFC 6455 5.2.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Opcode {
    /// Next fragment of a message.
    Continuation = 0,
    /// UTF-8 text message (or its first fragment).
    Text = 1,
    /// Binary message (or its first fragment).
    Binary = 2,
    /// Closing handshake.
    Close = 8,
    /// Keep-alive probe; the peer answers with a Pong.
    Ping = 9,
    /// Answer to a Ping (or unsolicited heartbeat).
    Pong = 10,
}

impl Opcode {
    /// Close, Ping and Pong: at most 125 bytes, never fragmented.
    pub fn is_control(self) -> bool {
        (self as u8) & 0x08 != 0
    }
}

impl TryFrom<u8> for Opcode {
    type Error = WsError;

    fn try_from(op: u8) -> Result<Self, WsError> {
        match op {
            0 => Ok(Self::Continuation),
            1 => Ok(Self::Text),
            2 => Ok(Self::Binary),
            8 => Ok(Self::Close),
            9 => Ok(Self::Ping),
            10 => Ok(Self::Pong),
            _ => Err(WsError::ReservedOpcode(op)),
        }
    }
}

/// One event parsed from the server. Slices borrow the parser's input and live only for
/// the duration of the callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WsEvent<'a> {
    /// A complete text message, validated as UTF-8 once, here: a `str`, so the consumer
    /// never checks it again (a second `from_utf8` cost 190 instructions per S1 message in the
    /// fused decoder, 4% of its work: callgrind, issue 17).
    Text(&'a str),
    /// A complete binary message.
    Binary(&'a [u8]),
    /// A ping; the caller should answer with a Pong carrying the same payload.
    Ping(&'a [u8]),
    /// A pong.
    Pong(&'a [u8]),
    /// The server's Close frame; `code` is `None` when the payload was empty.
    Close {
        /// The close code, `None` for an empty payload.
        code: Option<u16>,
        /// The UTF-8 reason, possibly empty.
        reason: &'a str,
    },
}

/// Why [`FrameParser::feed`] stopped: a protocol error, or the caller's callback aborted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedError<E> {
    /// The server broke the protocol; the parser is now poisoned.
    Ws(WsError),
    /// The callback returned this error; the parser stays usable (see [`FrameParser::feed`]).
    Callback(E),
}

impl<E> From<WsError> for FeedError<E> {
    fn from(e: WsError) -> Self {
        Self::Ws(e)
    }
}

impl<E: fmt::Display> fmt::Display for FeedError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ws(e) => e.fmt(f),
            Self::Callback(e) => e.fmt(f),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for FeedError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Ws(e) => Some(e),
            Self::Callback(e) => Some(e),
        }
    }
}

/// A validated frame header.
#[derive(Debug, Clone, Copy)]
struct Header {
    fin: bool,
    /// RSV1 under permessage-deflate: the message this frame starts is compressed.
    compressed: bool,
    opcode: Opcode,
    head_len: usize,
    payload_len: usize,
}

impl Header {
    fn frame_len(&self) -> usize {
        self.head_len + self.payload_len
    }
}

/// Result of looking at the start of a frame.
enum Parsed {
    /// The header is incomplete; this many bytes are needed to go further.
    Need(usize),
    /// The header is complete and valid (the payload may still be missing).
    Frame(Header),
}

/// Incremental parser of server-to-client frames.
///
/// Holds bytes only for a frame split across `feed` calls and for a fragmented message in
/// progress, so its memory is a small multiple of `max_message_size` at worst, and buffers
/// that grew past 1 MiB are freed once they are empty again.
pub struct FrameParser {
    max_message_size: usize,
    /// Start of a frame whose end has not arrived yet.
    buf: Vec<u8>,
    /// Payload of the fragmented message in progress.
    frag: Vec<u8>,
    /// Opcode of the fragmented message in progress (Text or Binary).
    frag_opcode: Option<Opcode>,
    /// Whether the fragmented message in progress is compressed.
    frag_compressed: bool,
    /// The permessage-deflate receive state, once negotiated.
    deflate: Option<Box<Deflate>>,
    closed: bool,
    poisoned: Option<WsError>,
}

impl fmt::Debug for FrameParser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameParser")
            .field("max_message_size", &self.max_message_size)
            .field("buffered", &self.buf.len())
            .field("fragmented", &self.frag.len())
            .field("frag_opcode", &self.frag_opcode)
            .field("frag_compressed", &self.frag_compressed)
            .field("deflate", &self.deflate)
            .field("closed", &self.closed)
            .field("poisoned", &self.poisoned)
            .finish()
    }
}

impl Default for FrameParser {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_MESSAGE_SIZE)
    }
}

impl FrameParser {
    /// A parser rejecting data messages longer than `max_message_size` bytes.
    pub fn new(max_message_size: usize) -> Self {
        Self {
            max_message_size,
            buf: Vec::new(),
            frag: Vec::new(),
            frag_opcode: None,
            frag_compressed: false,
            deflate: None,
            closed: false,
            poisoned: None,
        }
    }

    /// Turns on permessage-deflate with the parameters the server accepted: from now on RSV1
    /// on the first frame of a data message means the message is compressed.
    pub fn enable_deflate(&mut self, params: DeflateParams) {
        self.deflate = Some(Box::new(Deflate::new(params)));
    }

    /// The negotiated permessage-deflate parameters, if any.
    pub fn deflate_params(&self) -> Option<DeflateParams> {
        self.deflate.as_ref().map(|d| d.params())
    }

    /// Append network bytes and call `on_event` for every complete event, in order.
    ///
    /// Data borrowed in events is valid only during the callback. Stops at the first
    /// protocol error and returns it; the parser is then poisoned and every later call
    /// returns the same error. After a Close event, further bytes are ignored.
    ///
    /// If the callback returns an error, the frame that produced the event counts as
    /// consumed and the bytes after it are kept: a later `feed` (even with no data)
    /// resumes with the next event.
    pub fn feed<E, F>(&mut self, data: &[u8], mut on_event: F) -> Result<(), FeedError<E>>
    where
        F: FnMut(WsEvent<'_>) -> Result<(), E>,
    {
        if let Some(e) = &self.poisoned {
            return Err(FeedError::Ws(e.clone()));
        }
        if self.closed {
            return Ok(());
        }
        let result = self.feed_inner(data, &mut on_event);
        if let Err(FeedError::Ws(e)) = &result {
            self.poisoned = Some(e.clone());
            self.release();
        } else if self.closed {
            self.release();
        }
        result
    }

    /// Bytes held waiting for more input: a partial frame plus a partial fragmented message.
    pub fn buffered_len(&self) -> usize {
        self.buf.len() + self.frag.len()
    }

    /// Whether a Close frame was received.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Drops all held bytes and their memory (after Close or a protocol error).
    fn release(&mut self) {
        self.buf = Vec::new();
        self.frag = Vec::new();
        self.frag_opcode = None;
        self.frag_compressed = false;
        if let Some(deflate) = self.deflate.as_deref_mut() {
            deflate.out = Vec::new();
        }
    }

    fn feed_inner<E, F>(&mut self, data: &[u8], on_event: &mut F) -> Result<(), FeedError<E>>
    where
        F: FnMut(WsEvent<'_>) -> Result<(), E>,
    {
        let mut used = 0;
        // Finish the frame left over from earlier calls, copying only the bytes it lacks.
        while !self.buf.is_empty() && !self.closed {
            used += self.fill_buffer(&data[used..])?;
            if let Err(e) = self.drain_buffer(on_event) {
                self.buf.extend_from_slice(&data[used..]);
                return Err(e);
            }
            if used == data.len() {
                return Ok(());
            }
        }
        // Zero copy: parse straight from `data`, keep only the unfinished tail.
        let rest = &data[used..];
        let (consumed, result) = self.parse_frames(rest, on_event);
        if !self.closed {
            self.buf.extend_from_slice(&rest[consumed..]);
        }
        result
    }

    /// Appends to `buf` from `data` until its first frame is complete or `data` runs out.
    /// Returns how many bytes of `data` were taken.
    fn fill_buffer(&mut self, data: &[u8]) -> Result<usize, WsError> {
        let mut used = 0;
        loop {
            let need = match self.parse_header(&self.buf)? {
                Parsed::Need(n) => n,
                Parsed::Frame(h) => h.frame_len(),
            };
            let take = need.saturating_sub(self.buf.len()).min(data.len() - used);
            if take == 0 {
                return Ok(used);
            }
            // One exact allocation for a large frame instead of repeated doubling.
            self.buf.reserve_exact(need - self.buf.len());
            self.buf.extend_from_slice(&data[used..used + take]);
            used += take;
        }
    }

    /// Parses every complete frame in `buf` and keeps the unfinished rest.
    fn drain_buffer<E, F>(&mut self, on_event: &mut F) -> Result<(), FeedError<E>>
    where
        F: FnMut(WsEvent<'_>) -> Result<(), E>,
    {
        let mut buf = std::mem::take(&mut self.buf);
        let (consumed, result) = self.parse_frames(&buf, on_event);
        buf.drain(..consumed);
        if buf.is_empty() && buf.capacity() > SHRINK_THRESHOLD {
            buf = Vec::new();
        }
        self.buf = buf;
        result
    }

    /// Dispatches every complete frame at the start of `data`. Returns how many bytes
    /// were consumed, and the first error.
    fn parse_frames<E, F>(&mut self, data: &[u8], on_event: &mut F) -> (usize, Result<(), FeedError<E>>)
    where
        F: FnMut(WsEvent<'_>) -> Result<(), E>,
    {
        let mut pos = 0;
        while !self.closed {
            let rest = &data[pos..];
            let header = match self.parse_header(rest) {
                Ok(Parsed::Frame(h)) if h.frame_len() <= rest.len() => h,
                Ok(_) => break,
                Err(e) => return (pos, Err(FeedError::Ws(e))),
            };
            pos += header.frame_len();
            let payload = &rest[header.head_len..header.frame_len()];
            if let Err(e) = self.dispatch(header, payload, on_event) {
                return (pos, Err(e));
            }
        }
        (pos, Ok(()))
    }

    /// Validates the header at the start of `b` against the RFC and the parser's state.
    /// Errors are reported as soon as the bytes that show them have arrived.
    fn parse_header(&self, b: &[u8]) -> Result<Parsed, WsError> {
        if b.len() < 2 {
            return Ok(Parsed::Need(2));
        }
        let (b0, b1) = (b[0], b[1]);
        let compressed = b0 & RSV_BITS != 0 && self.check_rsv(b0)?;
        let opcode = Opcode::try_from(b0 & OPCODE_BITS)?;
        if b1 & MASK_BIT != 0 {
            return Err(WsError::MaskedServerFrame);
        }
        let fin = b0 & FIN_BIT != 0;
        let len7 = b1 & !MASK_BIT;
        self.check_sequence(opcode, fin, len7)?;
        let (len, head_len) = match len7 {
            LEN_16 => {
                if b.len() < 4 {
                    return Ok(Parsed::Need(4));
                }
                let len = u16::from_be_bytes([b[2], b[3]]);
                if len < u16::from(LEN_16) {
                    return Err(WsError::NonMinimalLength);
                }
                (u64::from(len), 4)
            }
            LEN_64 => {
                if b.len() < 10 {
                    return Ok(Parsed::Need(10));
                }
                let mut raw = [0u8; 8];
                raw.copy_from_slice(&b[2..10]);
                let len = u64::from_be_bytes(raw);
                if len <= 0xFFFF {
                    return Err(WsError::NonMinimalLength);
                }
                (len, 10)
            }
            n => (u64::from(n), 2),
        };
        let payload_len = self.check_size(opcode, len)?;
        Ok(Parsed::Frame(Header { fin, compressed, opcode, head_len, payload_len }))
    }

    /// RSV bits are set: only RSV1, only under permessage-deflate, only on the first frame of
    /// a data message. Returns true (compressed) or the error.
    #[cold]
    fn check_rsv(&self, b0: u8) -> Result<bool, WsError> {
        if self.deflate.is_none() || b0 & RSV_BITS != RSV1_BIT {
            return Err(WsError::ReservedBits);
        }
        match Opcode::try_from(b0 & OPCODE_BITS)? {
            Opcode::Text | Opcode::Binary => Ok(true),
            _ => Err(WsError::CompressedNonDataFrame),
        }
    }

    /// Control frame rules and fragmentation order (RFC 6455 5.4, 5.5).
    fn check_sequence(&self, opcode: Opcode, fin: bool, len7: u8) -> Result<(), WsError> {
        if opcode.is_control() {
            if !fin {
                return Err(WsError::FragmentedControl);
            }
            if usize::from(len7) > MAX_CONTROL_PAYLOAD {
                return Err(WsError::ControlFrameTooLong);
            }
        } else if opcode == Opcode::Continuation {
            if self.frag_opcode.is_none() {
                return Err(WsError::UnexpectedContinuation);
            }
        } else if self.frag_opcode.is_some() {
            return Err(WsError::ExpectedContinuation);
        }
        Ok(())
    }

    /// Rejects a data frame whose message would exceed the maximum, from the header alone.
    fn check_size(&self, opcode: Opcode, len: u64) -> Result<usize, WsError> {
        if opcode.is_control() {
            return Ok(len as usize); // at most 125, checked already
        }
        let so_far = if opcode == Opcode::Continuation { self.frag.len() as u64 } else { 0 };
        let size = so_far.saturating_add(len);
        let too_large = WsError::MessageTooLarge { size, max: self.max_message_size };
        if size > self.max_message_size as u64 || len > MAX_FRAME_PAYLOAD {
            return Err(too_large);
        }
        usize::try_from(len).map_err(|_| too_large)
    }

    /// Acts on one complete frame.
    fn dispatch<E, F>(&mut self, h: Header, payload: &[u8], on_event: &mut F) -> Result<(), FeedError<E>>
    where
        F: FnMut(WsEvent<'_>) -> Result<(), E>,
    {
        let event = match h.opcode {
            Opcode::Text | Opcode::Binary if h.fin => {
                if h.compressed {
                    return self.inflate_and_deliver(h.opcode, payload, on_event);
                }
                data_event(h.opcode, payload)?
            }
            Opcode::Text | Opcode::Binary => {
                self.frag_opcode = Some(h.opcode);
                self.frag_compressed = h.compressed;
                self.frag.extend_from_slice(payload);
                return Ok(());
            }
            Opcode::Continuation => {
                self.frag.extend_from_slice(payload);
                return if h.fin { self.finish_message(on_event) } else { Ok(()) };
            }
            Opcode::Ping => WsEvent::Ping(payload),
            Opcode::Pong => WsEvent::Pong(payload),
            Opcode::Close => {
                let event = close_event(payload)?;
                self.closed = true;
                event
            }
        };
        on_event(event).map_err(FeedError::Callback)
    }

    /// Delivers the reassembled fragmented message and resets the accumulator.
    fn finish_message<E, F>(&mut self, on_event: &mut F) -> Result<(), FeedError<E>>
    where
        F: FnMut(WsEvent<'_>) -> Result<(), E>,
    {
        // Always Some here: `check_sequence` rejects a continuation with no message started.
        let opcode = self.frag_opcode.take().unwrap_or(Opcode::Binary);
        let result = if std::mem::take(&mut self.frag_compressed) {
            let frag = std::mem::take(&mut self.frag);
            let result = self.inflate_and_deliver(opcode, &frag, on_event);
            self.frag = frag;
            result
        } else {
            match data_event(opcode, &self.frag) {
                Ok(event) => on_event(event).map_err(FeedError::Callback),
                Err(e) => Err(FeedError::Ws(e)),
            }
        };
        self.frag.clear();
        if self.frag.capacity() > SHRINK_THRESHOLD {
            self.frag = Vec::new();
        }
        result
    }

    /// Inflates a whole compressed message and delivers it (text validated after inflating).
    #[cold]
    fn inflate_and_deliver<E, F>(
        &mut self,
        opcode: Opcode,
        compressed: &[u8],
        on_event: &mut F,
    ) -> Result<(), FeedError<E>>
    where
        F: FnMut(WsEvent<'_>) -> Result<(), E>,
    {
        // Always Some here: `check_rsv` accepts RSV1 only once deflate is on.
        let Some(deflate) = self.deflate.as_deref_mut() else {
            return Err(FeedError::Ws(WsError::ReservedBits));
        };
        let result = match deflate.inflate_message(compressed, self.max_message_size) {
            Ok(message) => match data_event(opcode, message) {
                Ok(event) => on_event(event).map_err(FeedError::Callback),
                Err(e) => Err(FeedError::Ws(e)),
            },
            Err(e) => Err(FeedError::Ws(e)),
        };
        if deflate.out.capacity() > SHRINK_THRESHOLD {
            deflate.out = Vec::new();
        }
        result
    }
}

/// The event for a complete Text or Binary message; text must be UTF-8.
fn data_event(opcode: Opcode, payload: &[u8]) -> Result<WsEvent<'_>, WsError> {
    if opcode == Opcode::Text {
        let text = simdutf8::basic::from_utf8(payload).map_err(|_| WsError::InvalidUtf8)?;
        Ok(WsEvent::Text(text))
    } else {
        Ok(WsEvent::Binary(payload))
    }
}

/// Decodes a Close payload: empty, or a valid 2-byte code plus a UTF-8 reason.
fn close_event(payload: &[u8]) -> Result<WsEvent<'_>, WsError> {
    match payload {
        [] => Ok(WsEvent::Close { code: None, reason: "" }),
        [_] => Err(WsError::BadClosePayload),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !is_valid_close_code(code) {
                return Err(WsError::BadCloseCode(code));
            }
            let reason = simdutf8::basic::from_utf8(reason).map_err(|_| WsError::InvalidUtf8)?;
            Ok(WsEvent::Close { code: Some(code), reason })
        }
    }
}

/// Close codes allowed on the wire (RFC 6455 7.4.1 plus the IANA-registered 1012-1014).
fn is_valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// Builds a masked client frame with FIN set into `out` (appending).
///
/// `mask_key` comes from the caller: from [`MaskKeys`] in production (RFC 6455 10.3), fixed in
/// tests.
/// Control frames (Close, Ping, Pong) must carry at most 125 bytes; that is the caller's
/// responsibility, as a longer one makes the server fail the connection.
pub fn write_frame(out: &mut Vec<u8>, opcode: Opcode, payload: &[u8], mask_key: [u8; 4]) {
    out.reserve(14 + payload.len());
    out.push(FIN_BIT | opcode as u8);
    let len = payload.len();
    if len < usize::from(LEN_16) {
        out.push(MASK_BIT | len as u8);
    } else if let Ok(len16) = u16::try_from(len) {
        out.push(MASK_BIT | LEN_16);
        out.extend_from_slice(&len16.to_be_bytes());
    } else {
        out.push(MASK_BIT | LEN_64);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&mask_key);
    let start = out.len();
    out.extend_from_slice(payload);
    apply_mask(&mut out[start..], mask_key, 0);
}

/// Builds a masked Close frame into `out` (appending).
///
/// With `code`, the reason is truncated to 123 bytes at a UTF-8 boundary so the frame stays a
/// legal control frame. Without `code` the payload is empty and `reason` is ignored: the RFC
/// allows a reason only after a code. The code is not validated (send 1000 for a normal close).
pub fn write_close(out: &mut Vec<u8>, code: Option<u16>, reason: &str, mask_key: [u8; 4]) {
    let mut payload = [0u8; MAX_CONTROL_PAYLOAD];
    let len = match code {
        None => 0,
        Some(code) => {
            let reason = truncate_utf8(reason, MAX_CLOSE_REASON).as_bytes();
            payload[..2].copy_from_slice(&code.to_be_bytes());
            payload[2..2 + reason.len()].copy_from_slice(reason);
            2 + reason.len()
        }
    };
    write_frame(out, Opcode::Close, &payload[..len], mask_key);
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn truncate_utf8(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// XORs `buf` in place with `mask_key`, starting at key position `offset` (so a payload can
/// be masked in pieces: pass the number of payload bytes already masked).
///
/// Works 8 bytes at a time with a `u64` built from the rotated key, then finishes the tail.
pub fn apply_mask(buf: &mut [u8], mask_key: [u8; 4], offset: usize) {
    let mut key = mask_key;
    key.rotate_left(offset % 4);
    let wide = u64::from_ne_bytes([key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3]]);
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let masked = u64::from_ne_bytes(word) ^ wide;
        chunk.copy_from_slice(&masked.to_ne_bytes());
    }
    // Whole chunks are a multiple of 4 bytes, so the tail starts at key position 0.
    for (byte, k) in chunks.into_remainder().iter_mut().zip(key.iter().cycle()) {
        *byte ^= k;
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod deflate_tests;
