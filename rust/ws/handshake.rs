//! The opening handshake: the client's upgrade request and the checks of the server's answer.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use sha1::{Digest, Sha1};

use super::deflate::{parse_deflate_params, DeflateParams, DEFLATE_OFFER, PERMESSAGE_DEFLATE};
use super::{WsError, MAX_HANDSHAKE_HEADERS, MAX_HANDSHAKE_SIZE, WS_GUID};

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: base64(SHA-1(key + GUID)).
pub fn accept_key(client_key_b64: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(client_key_b64.as_bytes());
    sha.update(WS_GUID.as_bytes());
    BASE64.encode(sha.finalize())
}

/// What goes into the client's opening handshake.
#[derive(Debug, Clone, Copy)]
pub struct HandshakeRequest<'a> {
    /// Value for the Host header (`host[:port]`, as the caller formats it).
    pub host: &'a str,
    /// Path and query, e.g. `/socket/websocket?vsn=2.0.0`; empty means `/`.
    pub path: &'a str,
    /// Base64 of 16 random bytes, from the caller.
    pub key: &'a str,
    /// Offered subprotocols, most preferred first; empty sends no header.
    pub protocols: &'a [&'a str],
    /// Extra headers such as Origin, Cookie, User-Agent.
    pub headers: &'a [(&'a str, &'a str)],
    /// Offer permessage-deflate (`Sec-WebSocket-Extensions: permessage-deflate;
    /// client_max_window_bits`); the server decides.
    pub offer_deflate: bool,
}

/// Headers this module writes itself; extra headers with these names are dropped so the
/// request never carries two conflicting copies. Extensions are dropped because the only one
/// supported is offered through [`HandshakeRequest::offer_deflate`].
const MANAGED_HEADERS: [&str; 7] = [
    "host",
    "upgrade",
    "connection",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
];

/// Writes the HTTP/1.1 upgrade request (RFC 6455 4.1) into `out` (appending).
///
/// CR, LF and NUL in any field are replaced by spaces so caller-supplied values cannot
/// inject headers; callers should still validate them to report a clear error. Extra
/// headers named like those written here (Host, Upgrade, Connection, Sec-WebSocket-*) are
/// skipped: pass subprotocols through `protocols`.
pub fn write_handshake_request(req: &HandshakeRequest<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"GET ");
    push_field(out, if req.path.is_empty() { "/" } else { req.path });
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    push_field(out, req.host);
    out.extend_from_slice(b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ");
    push_field(out, req.key);
    out.extend_from_slice(b"\r\nSec-WebSocket-Version: 13\r\n");
    if !req.protocols.is_empty() {
        out.extend_from_slice(b"Sec-WebSocket-Protocol: ");
        for (i, protocol) in req.protocols.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(b", ");
            }
            push_field(out, protocol);
        }
        out.extend_from_slice(b"\r\n");
    }
    if req.offer_deflate {
        out.extend_from_slice(b"Sec-WebSocket-Extensions: ");
        out.extend_from_slice(DEFLATE_OFFER.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    for (name, value) in req.headers {
        if MANAGED_HEADERS.iter().any(|m| m.eq_ignore_ascii_case(name)) {
            continue;
        }
        push_field(out, name);
        out.extend_from_slice(b": ");
        push_field(out, value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends `s`, turning CR, LF and NUL into spaces (no header injection).
fn push_field(out: &mut Vec<u8>, s: &str) {
    out.extend(s.bytes().map(|b| if matches!(b, b'\r' | b'\n' | 0) { b' ' } else { b }));
}

/// A validated `101 Switching Protocols` response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeResponse {
    /// Bytes of the input taken by the response head; frames start right after.
    pub consumed: usize,
    /// The subprotocol the server selected, if any.
    pub protocol: Option<String>,
    /// The permessage-deflate parameters, when the server accepted our offer.
    pub deflate: Option<DeflateParams>,
    /// Every header as (name lowercased, value trimmed; invalid UTF-8 replaced).
    pub headers: Vec<(String, String)>,
}

/// Validates the server's handshake response at the start of `buf`.
///
/// `Ok(None)` means more bytes are needed (call again with the longer buffer). A non-101
/// status is reported as [`WsError::BadStatus`] as soon as the status line is complete,
/// whatever follows. On success the response says how many bytes it took: frames may follow
/// in the same read, and the caller feeds `buf[consumed..]` to a [`FrameParser`].
///
/// A `Sec-WebSocket-Protocol` not in `offered_protocols` fails; none at all is accepted even
/// when protocols were offered (`protocol` is then `None`, and the caller decides).
/// No extension was offered, so any extension in the answer fails; see
/// [`parse_handshake_response_offering`].
pub fn parse_handshake_response(
    buf: &[u8],
    key: &str,
    offered_protocols: &[&str],
) -> Result<Option<HandshakeResponse>, WsError> {
    parse_handshake_response_offering(buf, key, offered_protocols, false)
}

/// [`parse_handshake_response`] for a request that offered permessage-deflate when
/// `offered_deflate`: the server may then accept it (see [`HandshakeResponse::deflate`]).
pub fn parse_handshake_response_offering(
    buf: &[u8],
    key: &str,
    offered_protocols: &[&str],
    offered_deflate: bool,
) -> Result<Option<HandshakeResponse>, WsError> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HANDSHAKE_HEADERS];
    let mut response = httparse::Response::new(&mut slots);
    let parsed = response.parse(buf);
    // `reason` is set once the whole status line is in, so `code` is final.
    if let (Some(status), Some(_)) = (response.code, response.reason) {
        if status != 101 {
            return Err(WsError::BadStatus { status });
        }
    }
    match parsed {
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HANDSHAKE_SIZE => Err(WsError::HandshakeTooLarge),
        Ok(httparse::Status::Partial) => Ok(None),
        Ok(httparse::Status::Complete(consumed)) if consumed > MAX_HANDSHAKE_SIZE => {
            Err(WsError::HandshakeTooLarge)
        }
        Ok(httparse::Status::Complete(consumed)) => {
            validate_response(response.headers, key, offered_protocols, offered_deflate, consumed).map(Some)
        }
        Err(e) => Err(WsError::BadHandshake(format!("malformed HTTP response: {e}"))),
    }
}

/// The header checks of RFC 6455 4.1, in the RFC's order.
fn validate_response(
    raw: &[httparse::Header<'_>],
    key: &str,
    offered_protocols: &[&str],
    offered_deflate: bool,
    consumed: usize,
) -> Result<HandshakeResponse, WsError> {
    let headers: Vec<(String, String)> = raw
        .iter()
        .map(|h| {
            let value = String::from_utf8_lossy(h.value);
            (h.name.to_ascii_lowercase(), value.trim_matches([' ', '\t']).to_owned())
        })
        .collect();
    check_upgrade(&headers)?;
    check_connection(&headers)?;
    check_accept(&headers, key)?;
    let deflate = check_extensions(&headers, offered_deflate)?;
    let protocol = check_protocol(&headers, offered_protocols)?;
    Ok(HandshakeResponse { consumed, protocol, deflate, headers })
}

/// Values of every header called `name` (lowercase).
fn header_values<'a>(headers: &'a [(String, String)], name: &'a str) -> impl Iterator<Item = &'a str> {
    headers.iter().filter(move |(n, _)| n == name).map(|(_, v)| v.as_str())
}

fn check_upgrade(headers: &[(String, String)]) -> Result<(), WsError> {
    match header_values(headers, "upgrade").next() {
        None => Err(WsError::BadHandshake("response has no Upgrade header".into())),
        Some(v) if v.eq_ignore_ascii_case("websocket") => Ok(()),
        Some(v) => Err(WsError::BadHandshake(format!("Upgrade header is {v:?}, expected \"websocket\""))),
    }
}

fn check_connection(headers: &[(String, String)]) -> Result<(), WsError> {
    let has_upgrade = header_values(headers, "connection")
        .flat_map(|v| v.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("upgrade"));
    if has_upgrade {
        Ok(())
    } else {
        Err(WsError::BadHandshake("Connection header missing or without the \"upgrade\" token".into()))
    }
}

fn check_accept(headers: &[(String, String)], key: &str) -> Result<(), WsError> {
    let mut values = header_values(headers, "sec-websocket-accept");
    match (values.next(), values.next()) {
        (Some(v), None) if v == accept_key(key) => Ok(()),
        _ => Err(WsError::BadAccept),
    }
}

/// The server may enable only what we offered (RFC 6455 4.1, item 5): nothing, or
/// permessage-deflate with the parameters of RFC 7692 7.1, once.
fn check_extensions(
    headers: &[(String, String)],
    offered_deflate: bool,
) -> Result<Option<DeflateParams>, WsError> {
    let mut deflate = None;
    let elements = header_values(headers, "sec-websocket-extensions")
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|e| !e.is_empty());
    for element in elements {
        let mut parts = element.split(';').map(|p| p.trim_matches([' ', '\t']));
        let name = parts.next().unwrap_or("");
        if !offered_deflate || !name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE) {
            return Err(WsError::BadHandshake(format!(
                "server enabled extension {element:?}, which the client did not offer"
            )));
        }
        if deflate.is_some() {
            return Err(WsError::BadHandshake("server enabled permessage-deflate twice".into()));
        }
        deflate = Some(parse_deflate_params(element, parts)?);
    }
    Ok(deflate)
}

fn check_protocol(headers: &[(String, String)], offered: &[&str]) -> Result<Option<String>, WsError> {
    let chosen: Vec<&str> = header_values(headers, "sec-websocket-protocol").collect();
    match chosen.as_slice() {
        [] => Ok(None),
        [p] if offered.contains(p) => Ok(Some((*p).to_owned())),
        _ => Err(WsError::BadSubprotocol(chosen.join(", "))),
    }
}
