//! permessage-deflate (RFC 7692): negotiation, and inflating what flate2's compressor (raw
//! DEFLATE, as a server writes it) produces.

use super::deflate::DEFLATE_TAIL;
use super::*;
use flate2::{Compress, Compression, FlushCompress};
use proptest::prelude::*;
use std::convert::Infallible;

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Other,
}

fn feed(p: &mut FrameParser, data: &[u8], events: &mut Vec<Ev>) -> Result<(), WsError> {
    p.feed(data, |e| {
        events.push(match e {
            WsEvent::Text(t) => Ev::Text(t.to_owned()),
            WsEvent::Binary(b) => Ev::Binary(b.to_vec()),
            WsEvent::Ping(b) => Ev::Ping(b.to_vec()),
            _ => Ev::Other,
        });
        Ok::<(), Infallible>(())
    })
    .map_err(|e| match e {
        FeedError::Ws(e) => e,
        FeedError::Callback(never) => match never {},
    })
}

/// A server frame: unmasked, minimal length, with the given RSV bits.
fn frame(fin: bool, rsv: u8, opcode: u8, payload: &[u8]) -> Vec<u8> {
    super::tests::frame_rsv(fin, rsv, opcode, payload)
}

/// One message compressed as a permessage-deflate sender does: sync flush, tail removed.
fn compress(c: &mut Compress, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 64);
    let start = c.total_in();
    loop {
        let done = (c.total_in() - start) as usize;
        if out.len() == out.capacity() {
            out.reserve(4096);
        }
        c.compress_vec(&data[done..], &mut out, FlushCompress::Sync).unwrap();
        if (c.total_in() - start) as usize == data.len() && out.len() < out.capacity() {
            break;
        }
    }
    assert!(out.ends_with(&DEFLATE_TAIL));
    out.truncate(out.len() - 4);
    out
}

fn compressor() -> Compress {
    Compress::new(Compression::default(), false)
}

fn deflate_parser(max: usize, params: DeflateParams) -> FrameParser {
    let mut p = FrameParser::new(max);
    p.enable_deflate(params);
    p
}

fn text(s: &str) -> Ev {
    Ev::Text(s.to_owned())
}

fn repetitive(n: usize) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for i in 0..n {
        let _ = write!(out, "message {i} says hello; ");
    }
    out
}

// ---------------------------------------------------------------- negotiation

fn response(extensions: &[&str]) -> String {
    let mut text = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {ACCEPT}\r\n"
    );
    for e in extensions {
        text.push_str("Sec-WebSocket-Extensions: ");
        text.push_str(e);
        text.push_str("\r\n");
    }
    text.push_str("\r\n");
    text
}

fn negotiate(extensions: &[&str]) -> Result<Option<DeflateParams>, WsError> {
    parse_handshake_response_offering(response(extensions).as_bytes(), KEY, &[], true)
        .map(|r| r.expect("complete response").deflate)
}

fn rejected(extensions: &[&str]) -> String {
    match negotiate(extensions) {
        Err(WsError::BadHandshake(why)) => why,
        other => panic!("{extensions:?} should fail the handshake, got {other:?}"),
    }
}

#[test]
fn request_offers_deflate_only_when_asked() {
    let mut req = HandshakeRequest {
        host: "h",
        path: "/",
        key: KEY,
        protocols: &[],
        headers: &[],
        offer_deflate: true,
    };
    let mut out = Vec::new();
    write_handshake_request(&req, &mut out);
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"));
    // A caller's own extensions header is still dropped: one offer, ours.
    req.headers = &[("Sec-WebSocket-Extensions", "x-other")];
    req.offer_deflate = false;
    let mut out = Vec::new();
    write_handshake_request(&req, &mut out);
    assert!(!String::from_utf8(out).unwrap().to_ascii_lowercase().contains("extensions"));
}

#[test]
fn no_extension_in_the_answer_means_plain_websocket() {
    assert_eq!(negotiate(&[]), Ok(None));
    assert_eq!(negotiate(&[""]), Ok(None));
}

#[test]
fn bare_permessage_deflate() {
    assert_eq!(negotiate(&["permessage-deflate"]), Ok(Some(DeflateParams::default())));
    assert_eq!(negotiate(&["PerMessage-Deflate"]), Ok(Some(DeflateParams::default())));
}

#[test]
fn each_parameter() {
    let p = |s| negotiate(&[s]).unwrap().unwrap();
    assert!(p("permessage-deflate; server_no_context_takeover").server_no_context_takeover);
    assert!(p("permessage-deflate;client_no_context_takeover").client_no_context_takeover);
    assert_eq!(p("permessage-deflate; server_max_window_bits=10").server_max_window_bits, Some(10));
    assert_eq!(p("permessage-deflate; client_max_window_bits=8").client_max_window_bits, Some(8));
    assert_eq!(p("permessage-deflate; client_max_window_bits=\"15\"").client_max_window_bits, Some(15));
    assert_eq!(p("permessage-deflate; SERVER_MAX_WINDOW_BITS = 9").server_max_window_bits, Some(9));
    let all = p("permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
                 server_max_window_bits=12; client_max_window_bits=11");
    assert_eq!(
        all,
        DeflateParams {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: Some(12),
            client_max_window_bits: Some(11),
        }
    );
    assert_eq!(
        all.to_string(),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
         server_max_window_bits=12; client_max_window_bits=11"
    );
}

#[test]
fn bad_parameter_values() {
    for bits in ["7", "16", "08", "", "abc", "+9", "1e1", "\"9"] {
        let why = rejected(&[&format!("permessage-deflate; server_max_window_bits={bits}")]);
        assert!(why.contains("server_max_window_bits must be 8..15"), "{why}");
        let why = rejected(&[&format!("permessage-deflate; client_max_window_bits={bits}")]);
        assert!(why.contains("client_max_window_bits must be 8..15"), "{why}");
    }
    assert!(rejected(&["permessage-deflate; server_max_window_bits"]).contains("needs a value"));
    assert!(rejected(&["permessage-deflate; client_max_window_bits"]).contains("needs a value"));
    assert!(rejected(&["permessage-deflate; server_no_context_takeover=1"]).contains("takes no value"));
    assert!(rejected(&["permessage-deflate; client_no_context_takeover=1"]).contains("takes no value"));
    assert!(rejected(&["permessage-deflate; x_level=9"]).contains("unknown parameter"));
    let twice = rejected(&["permessage-deflate; server_no_context_takeover; server_no_context_takeover"]);
    assert!(twice.contains("twice"), "{twice}");
}

#[test]
fn unknown_or_repeated_extensions_are_rejected() {
    assert!(rejected(&["x-webkit-deflate-frame"]).contains("did not offer"));
    assert!(rejected(&["permessage-deflate, x-other"]).contains("did not offer"));
    assert!(rejected(&["permessage-deflate", "permessage-deflate"]).contains("twice"));
    assert!(rejected(&["permessage-deflate, permessage-deflate"]).contains("twice"));
}

#[test]
fn unoffered_deflate_is_rejected() {
    let text = response(&["permessage-deflate"]);
    for result in [
        parse_handshake_response(text.as_bytes(), KEY, &[]),
        parse_handshake_response_offering(text.as_bytes(), KEY, &[], false),
    ] {
        match result {
            Err(WsError::BadHandshake(why)) => assert!(why.contains("did not offer"), "{why}"),
            other => panic!("expected BadHandshake, got {other:?}"),
        }
    }
}

// ---------------------------------------------------------------- receiving

#[test]
fn inflates_a_compressed_text_and_binary_message() {
    let mut c = compressor();
    let big = repetitive(2000);
    let z = compress(&mut c, big.as_bytes());
    assert!(z.len() * 4 < big.len(), "the test data should compress well");
    let bin: Vec<u8> = (0..50_000u32).map(|i| (i % 7) as u8).collect();
    let zb = compress(&mut c, &bin);
    let mut data = frame(true, 0x40, 1, &z);
    data.extend(frame(true, 0x40, 2, &zb));
    data.extend(frame(true, 0, 1, b"plain")); // uncompressed messages stay allowed
    let mut p = deflate_parser(DEFAULT_MAX_MESSAGE_SIZE, DeflateParams::default());
    let mut events = Vec::new();
    assert_eq!(feed(&mut p, &data, &mut events), Ok(()));
    assert_eq!(events, vec![Ev::Text(big), Ev::Binary(bin), text("plain")]);
}

#[test]
fn context_takeover_across_messages() {
    let mut c = compressor();
    let msg = repetitive(50);
    let first = compress(&mut c, msg.as_bytes());
    let second = compress(&mut c, msg.as_bytes());
    // The second message refers back to the first: a fresh inflater cannot decode it.
    assert!(second.len() < first.len() / 4);
    let mut fresh = deflate_parser(1 << 20, DeflateParams::default());
    let mut wrong = Vec::new();
    let result = feed(&mut fresh, &frame(true, 0x40, 1, &second), &mut wrong);
    assert!(result.is_err() || wrong != vec![text(&msg)]);

    let mut p = deflate_parser(1 << 20, DeflateParams::default());
    let mut events = Vec::new();
    for _ in 0..2 {
        // split anywhere between two reads as well
        let mut data = frame(true, 0x40, 1, &first);
        data.extend(frame(true, 0x40, 1, &second));
        let (a, b) = data.split_at(data.len() / 2 + 1);
        assert_eq!(feed(&mut p, a, &mut events), Ok(()));
        assert_eq!(feed(&mut p, b, &mut events), Ok(()));
        p = deflate_parser(1 << 20, DeflateParams::default());
    }
    assert_eq!(events, vec![text(&msg), text(&msg), text(&msg), text(&msg)]);
}

#[test]
fn no_context_takeover_resets_per_message() {
    let params = DeflateParams { server_no_context_takeover: true, ..DeflateParams::default() };
    let mut p = deflate_parser(1 << 20, params);
    let mut events = Vec::new();
    for i in 0..5 {
        let msg = format!("{}{i}", repetitive(30));
        let z = compress(&mut compressor(), msg.as_bytes());
        assert_eq!(feed(&mut p, &frame(true, 0x40, 1, &z), &mut events), Ok(()));
        assert_eq!(events.pop(), Some(text(&msg)));
    }
}

#[test]
fn fragmented_compressed_message() {
    let msg = repetitive(500);
    let zipped = compress(&mut compressor(), msg.as_bytes());
    let (first, rest) = zipped.split_at(zipped.len() / 3);
    let (second, third) = rest.split_at(rest.len() / 2);
    let mut data = frame(false, 0x40, 1, first);
    data.extend(frame(true, 0, 9, b"between")); // a ping between fragments
    data.extend(frame(false, 0, 0, second));
    data.extend(frame(true, 0, 0, third));
    data.extend(frame(true, 0, 2, b"after"));
    let mut whole = Vec::new();
    let mut p = deflate_parser(1 << 20, DeflateParams::default());
    assert_eq!(feed(&mut p, &data, &mut whole), Ok(()));
    assert_eq!(whole, vec![Ev::Ping(b"between".to_vec()), text(&msg), Ev::Binary(b"after".to_vec())]);
    // byte by byte: same events
    let mut p = deflate_parser(1 << 20, DeflateParams::default());
    let mut split = Vec::new();
    for byte in &data {
        assert_eq!(feed(&mut p, std::slice::from_ref(byte), &mut split), Ok(()));
    }
    assert_eq!(split, whole);
    assert_eq!(p.buffered_len(), 0);
}

#[test]
fn rsv1_on_control_or_continuation_frames_is_rejected() {
    let on = || deflate_parser(1 << 20, DeflateParams::default());
    for opcode in [8, 9, 10] {
        let err = feed(&mut on(), &frame(true, 0x40, opcode, b""), &mut Vec::new());
        assert_eq!(err, Err(WsError::CompressedNonDataFrame), "opcode {opcode}");
    }
    let mut p = on();
    let z = compress(&mut compressor(), b"hello hello hello");
    let mut data = frame(false, 0x40, 1, &z[..2]);
    data.extend(frame(true, 0x40, 0, &z[2..]));
    assert_eq!(feed(&mut p, &data, &mut Vec::new()), Err(WsError::CompressedNonDataFrame));
    // RSV2 and RSV3 are never ours
    for rsv in [0x20, 0x10, 0x60, 0x70] {
        assert_eq!(feed(&mut on(), &frame(true, rsv, 1, &z), &mut Vec::new()), Err(WsError::ReservedBits));
    }
}

#[test]
fn rsv1_without_negotiation_is_still_rejected() {
    let z = compress(&mut compressor(), b"hello");
    let mut p = FrameParser::new(1 << 20);
    assert_eq!(feed(&mut p, &frame(true, 0x40, 1, &z), &mut Vec::new()), Err(WsError::ReservedBits));
    assert_eq!(p.deflate_params(), None);
}

#[test]
fn inflated_size_is_bounded() {
    let max = 64 * 1024;
    let bomb = compress(&mut compressor(), &vec![0u8; 10 * 1024 * 1024]);
    assert!(bomb.len() < 20 * 1024, "{}", bomb.len());
    let mut p = deflate_parser(max, DeflateParams::default());
    match feed(&mut p, &frame(true, 0x40, 2, &bomb), &mut Vec::new()) {
        Err(WsError::MessageTooLarge { size, max: m }) => {
            assert_eq!(m, max);
            assert!(size > max as u64 && size <= max as u64 + 1, "stopped at {size}");
        }
        other => panic!("expected MessageTooLarge, got {other:?}"),
    }
    // exactly the maximum is fine, one more byte is not
    let mut events = Vec::new();
    let exact = compress(&mut compressor(), &vec![7u8; max]);
    let mut p = deflate_parser(max, DeflateParams::default());
    assert_eq!(feed(&mut p, &frame(true, 0x40, 2, &exact), &mut events), Ok(()));
    assert_eq!(events, vec![Ev::Binary(vec![7u8; max])]);
    let over = compress(&mut compressor(), &vec![7u8; max + 1]);
    let mut p = deflate_parser(max, DeflateParams::default());
    assert!(matches!(
        feed(&mut p, &frame(true, 0x40, 2, &over), &mut Vec::new()),
        Err(WsError::MessageTooLarge { .. })
    ));
}

#[test]
fn text_is_validated_after_inflating() {
    let z = compress(&mut compressor(), b"ok \xff\xfe not utf-8");
    let mut p = deflate_parser(1 << 20, DeflateParams::default());
    assert_eq!(feed(&mut p, &frame(true, 0x40, 1, &z), &mut Vec::new()), Err(WsError::InvalidUtf8));
    let z = compress(&mut compressor(), "héllo wörld".as_bytes());
    let mut events = Vec::new();
    let mut p = deflate_parser(1 << 20, DeflateParams::default());
    assert_eq!(feed(&mut p, &frame(true, 0x40, 1, &z), &mut events), Ok(()));
    assert_eq!(events, vec![text("héllo wörld")]);
}

#[test]
fn corrupt_data_and_empty_messages() {
    let mut p = deflate_parser(1 << 20, DeflateParams::default());
    // block type 3 is invalid in DEFLATE
    assert_eq!(
        feed(&mut p, &frame(true, 0x40, 2, &[0xff, 0xff]), &mut Vec::new()),
        Err(WsError::BadCompressedData)
    );
    let mut events = Vec::new();
    let mut p = deflate_parser(1 << 20, DeflateParams::default());
    let empty = compress(&mut compressor(), b"");
    assert_eq!(feed(&mut p, &frame(true, 0x40, 1, &empty), &mut events), Ok(()));
    assert_eq!(feed(&mut p, &frame(true, 0x40, 1, b""), &mut events), Ok(()));
    assert_eq!(feed(&mut p, &frame(true, 0x40, 2, &[0x00]), &mut events), Ok(()));
    assert_eq!(events, vec![text(""), text(""), Ev::Binary(Vec::new())]);
}

#[test]
fn final_block_ends_the_stream_and_the_next_message_starts_fresh() {
    let mut p = deflate_parser(1 << 20, DeflateParams::default());
    let mut events = Vec::new();
    for msg in ["first first first", "second second"] {
        let mut c = compressor();
        let mut z = Vec::with_capacity(256);
        c.compress_vec(msg.as_bytes(), &mut z, FlushCompress::Finish).unwrap();
        assert_eq!(feed(&mut p, &frame(true, 0x40, 1, &z), &mut events), Ok(()));
    }
    assert_eq!(events, vec![text("first first first"), text("second second")]);
    // data after the final block is an error
    let mut c = compressor();
    let mut z = Vec::with_capacity(256);
    c.compress_vec(b"done", &mut z, FlushCompress::Finish).unwrap();
    z.extend_from_slice(b"junk");
    assert_eq!(feed(&mut p, &frame(true, 0x40, 1, &z), &mut Vec::new()), Err(WsError::BadCompressedData));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any messages, any split of the stream into reads, with and without context takeover.
    #[test]
    fn split_invariance(
        messages in prop::collection::vec(prop::collection::vec(0u8..4, 0..3000), 1..6),
        cut in 1usize..200,
        takeover in any::<bool>(),
    ) {
        let params = DeflateParams { server_no_context_takeover: !takeover, ..DeflateParams::default() };
        let mut c = compressor();
        let mut data = Vec::new();
        for m in &messages {
            let z = if takeover { compress(&mut c, m) } else { compress(&mut compressor(), m) };
            data.extend(frame(true, 0x40, 2, &z));
        }
        let mut p = deflate_parser(1 << 20, params);
        let mut events = Vec::new();
        for chunk in data.chunks(cut) {
            prop_assert_eq!(feed(&mut p, chunk, &mut events), Ok(()));
        }
        let expected: Vec<Ev> = messages.into_iter().map(Ev::Binary).collect();
        prop_assert_eq!(events, expected);
    }
}
