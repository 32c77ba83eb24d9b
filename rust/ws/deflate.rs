//! permessage-deflate (RFC 7692), receive side: the negotiated parameters and the inflater.

use std::fmt;

use flate2::{Decompress, FlushDecompress, Status};

use super::WsError;

/// The permessage-deflate parameters the server accepted (RFC 7692 7.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeflateParams {
    /// The server resets its compression context after every message.
    pub server_no_context_takeover: bool,
    /// We may not keep our compression context (we never compress, so it does not matter).
    pub client_no_context_takeover: bool,
    /// The window the server compresses with (8..=15), if it said.
    pub server_max_window_bits: Option<u8>,
    /// The window we must compress with (8..=15), if the server said.
    pub client_max_window_bits: Option<u8>,
}

impl fmt::Display for DeflateParams {
    /// The extension as a `Sec-WebSocket-Extensions` value, parameters in a fixed order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(PERMESSAGE_DEFLATE)?;
        if self.server_no_context_takeover {
            f.write_str("; server_no_context_takeover")?;
        }
        if self.client_no_context_takeover {
            f.write_str("; client_no_context_takeover")?;
        }
        if let Some(bits) = self.server_max_window_bits {
            write!(f, "; server_max_window_bits={bits}")?;
        }
        if let Some(bits) = self.client_max_window_bits {
            write!(f, "; client_max_window_bits={bits}")?;
        }
        Ok(())
    }
}

/// The extension token of RFC 7692.
pub(super) const PERMESSAGE_DEFLATE: &str = "permessage-deflate";
/// What the client offers: deflate, and the server may bound our window (we never compress).
pub(super) const DEFLATE_OFFER: &str = "permessage-deflate; client_max_window_bits";
/// The empty stored block the sender strips from each message (RFC 7692 7.2.2).
pub(super) const DEFLATE_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];
/// First growth step of the inflate buffer.
const INFLATE_CHUNK: usize = 16 * 1024;

/// Receive side of permessage-deflate: one raw-DEFLATE inflate context and its output buffer.
///
/// The context is kept from message to message (the server's sliding window carries over)
/// unless the server announced `server_no_context_takeover`. The inflater always keeps a
/// 32 KiB window, which decodes any stream compressed with a smaller `server_max_window_bits`
/// (the pure-Rust backend has no smaller window; a smaller one would only save memory).
pub struct Deflate {
    params: DeflateParams,
    inflate: Decompress,
    pub(super) out: Vec<u8>,
}

impl fmt::Debug for Deflate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deflate")
            .field("params", &self.params)
            .field("out", &self.out.len())
            .finish_non_exhaustive()
    }
}

impl Deflate {
    /// A fresh inflate context for the negotiated parameters.
    pub fn new(params: DeflateParams) -> Self {
        Self { params, inflate: Decompress::new(false), out: Vec::new() }
    }

    /// The negotiated parameters.
    pub fn params(&self) -> DeflateParams {
        self.params
    }

    /// Inflates one whole compressed message (the tail is appended here). Fails with
    /// [`WsError::MessageTooLarge`] as soon as the output passes `max`, without inflating
    /// further: a small message cannot make us allocate more than `max + 1` bytes.
    pub(super) fn inflate_message(&mut self, compressed: &[u8], max: usize) -> Result<&[u8], WsError> {
        if self.params.server_no_context_takeover {
            self.inflate.reset(false);
        }
        self.out.clear();
        if compressed.is_empty() {
            // Not a DEFLATE stream at all (a sync flush leaves at least one byte), but plainly
            // an empty message; feeding the tail alone would leave the inflater mid-block.
            return Ok(&self.out);
        }
        let ended = self.inflate_part(compressed, max)?;
        if ended {
            // A block with BFINAL set (RFC 7692 7.2.3.4): the stream ends with this message;
            // nothing of it may remain, and the next message starts a new stream.
            self.inflate.reset(false);
        } else if self.inflate_part(&DEFLATE_TAIL, max)? {
            self.inflate.reset(false);
        }
        Ok(&self.out)
    }

    /// Feeds `input` to the inflater; true when the DEFLATE stream ended (BFINAL).
    fn inflate_part(&mut self, mut input: &[u8], max: usize) -> Result<bool, WsError> {
        let limit = max.saturating_add(1);
        loop {
            if self.out.len() == self.out.capacity() {
                let want = self.out.len().max(INFLATE_CHUNK).max(input.len().saturating_mul(2));
                self.out.reserve_exact(want.min(limit - self.out.len()));
            }
            let (in_before, out_before) = (self.inflate.total_in(), self.out.len());
            let status = self
                .inflate
                .decompress_vec(input, &mut self.out, FlushDecompress::Sync)
                .map_err(|_| WsError::BadCompressedData)?;
            let used = (self.inflate.total_in() - in_before) as usize;
            input = &input[used..];
            if self.out.len() > max {
                return Err(WsError::MessageTooLarge { size: self.out.len() as u64, max });
            }
            let room = self.out.len() < self.out.capacity();
            match status {
                Status::StreamEnd if input.is_empty() => return Ok(true),
                Status::StreamEnd => return Err(WsError::BadCompressedData),
                // All input taken and output not full: nothing is pending inside the inflater.
                _ if input.is_empty() && room => return Ok(false),
                // Room left and input left, yet no progress: the data is stuck (never happens
                // with a valid stream; this keeps a malformed one from looping forever).
                _ if room && used == 0 && self.out.len() == out_before => {
                    return Err(WsError::BadCompressedData)
                }
                _ => {}
            }
        }
    }
}

/// The parameters of a permessage-deflate answer; each at most once, values as in RFC 7692.
pub(super) fn parse_deflate_params<'a>(
    element: &str,
    params: impl Iterator<Item = &'a str>,
) -> Result<DeflateParams, WsError> {
    let bad = |why: &str| WsError::BadHandshake(format!("bad permessage-deflate answer {element:?}: {why}"));
    let mut out = DeflateParams::default();
    let mut seen: Vec<String> = Vec::new();
    for param in params {
        let (name, value) = match param.split_once('=') {
            Some((n, v)) => (n.trim_matches([' ', '\t']), Some(unquote(v.trim_matches([' ', '\t'])))),
            None => (param, None),
        };
        let name = name.to_ascii_lowercase();
        if seen.contains(&name) {
            return Err(bad(&format!("parameter {name} given twice")));
        }
        match (name.as_str(), value) {
            ("server_no_context_takeover", None) => out.server_no_context_takeover = true,
            ("client_no_context_takeover", None) => out.client_no_context_takeover = true,
            ("server_max_window_bits", Some(v)) => {
                out.server_max_window_bits =
                    Some(window_bits(v).ok_or_else(|| bad("server_max_window_bits must be 8..15"))?);
            }
            ("client_max_window_bits", Some(v)) => {
                out.client_max_window_bits =
                    Some(window_bits(v).ok_or_else(|| bad("client_max_window_bits must be 8..15"))?);
            }
            ("server_no_context_takeover" | "client_no_context_takeover", Some(_)) => {
                return Err(bad(&format!("{name} takes no value")));
            }
            ("server_max_window_bits" | "client_max_window_bits", None) => {
                return Err(bad(&format!("{name} needs a value")));
            }
            _ => return Err(bad(&format!("unknown parameter {name:?}"))),
        }
        seen.push(name);
    }
    Ok(out)
}

/// A quoted-string value without its quotes (RFC 7692 7.1: the unquoted value must be valid).
fn unquote(v: &str) -> &str {
    v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(v)
}

/// A window size: 8 to 15, decimal digits without leading zeros (RFC 7692 7.1.2).
fn window_bits(v: &str) -> Option<u8> {
    if v.starts_with('0') || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse::<u8>().ok().filter(|bits| (8..=15).contains(bits))
}
