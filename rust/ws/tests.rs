use super::*;
use proptest::prelude::*;
use std::convert::Infallible;

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
/// The worked example of RFC 6455 section 1.3.
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// An owned copy of a [`WsEvent`], to compare after the callback returned.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<u16>, String),
}

impl From<WsEvent<'_>> for Ev {
    fn from(e: WsEvent<'_>) -> Self {
        match e {
            WsEvent::Text(t) => Ev::Text(t.to_owned()),
            WsEvent::Binary(b) => Ev::Binary(b.to_vec()),
            WsEvent::Ping(b) => Ev::Ping(b.to_vec()),
            WsEvent::Pong(b) => Ev::Pong(b.to_vec()),
            WsEvent::Close { code, reason } => Ev::Close(code, reason.to_owned()),
        }
    }
}

/// Test-only server frame writer: unmasked, minimal length encoding.
fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame_rsv(fin, 0, opcode, payload)
}

/// A server frame with the given RSV bits (the deflate tests set RSV1).
pub(super) fn frame_rsv(fin: bool, rsv: u8, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![if fin { 0x80 } else { 0 } | rsv | opcode];
    let len = payload.len();
    if len < 126 {
        out.push(len as u8);
    } else if len <= 0xFFFF {
        out.push(126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(payload);
    out
}

fn close_frame(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason);
    frame(true, 8, &payload)
}

fn feed(p: &mut FrameParser, data: &[u8], events: &mut Vec<Ev>) -> Result<(), WsError> {
    p.feed(data, |e| {
        events.push(e.into());
        Ok::<(), Infallible>(())
    })
    .map_err(|e| match e {
        FeedError::Ws(e) => e,
        FeedError::Callback(never) => match never {},
    })
}

/// Parses `data` in one piece with a fresh parser.
fn parse_with(max: usize, data: &[u8]) -> (Vec<Ev>, Result<(), WsError>) {
    let mut p = FrameParser::new(max);
    let mut events = Vec::new();
    let result = feed(&mut p, data, &mut events);
    (events, result)
}

fn parse(data: &[u8]) -> (Vec<Ev>, Result<(), WsError>) {
    parse_with(DEFAULT_MAX_MESSAGE_SIZE, data)
}

fn parse_err(data: &[u8]) -> WsError {
    parse(data).1.expect_err("expected a protocol error")
}

/// Parses `data` split at the given cut points (any order, duplicates allowed).
fn parse_chunked(data: &[u8], cuts: &[usize]) -> (Vec<Ev>, Result<(), WsError>) {
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(data.len())).collect();
    cuts.sort_unstable();
    let mut p = FrameParser::default();
    let mut events = Vec::new();
    let mut start = 0;
    for end in cuts.into_iter().chain([data.len()]) {
        if let Err(e) = feed(&mut p, &data[start..end], &mut events) {
            return (events, Err(e));
        }
        start = end;
    }
    (events, Ok(()))
}

/// Decodes one masked client frame written by `write_frame`: (first byte, unmasked payload).
fn decode_client_frame(bytes: &[u8]) -> (u8, Vec<u8>) {
    assert_eq!(bytes[1] & 0x80, 0x80, "client frames must be masked");
    let (len, mut pos) = match bytes[1] & 0x7F {
        126 => (u16::from_be_bytes([bytes[2], bytes[3]]) as usize, 4),
        127 => (u64::from_be_bytes(bytes[2..10].try_into().unwrap()) as usize, 10),
        n => (n as usize, 2),
    };
    let key: [u8; 4] = bytes[pos..pos + 4].try_into().unwrap();
    pos += 4;
    assert_eq!(bytes.len(), pos + len, "frame length");
    let payload = bytes[pos..].iter().enumerate().map(|(i, b)| b ^ key[i % 4]).collect();
    (bytes[0], payload)
}

fn naive_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b ^= key[(i + offset) % 4];
    }
}

// ---------------------------------------------------------------- masking

proptest! {
    #[test]
    fn mask_matches_naive(data in bytes(0..300), key: [u8; 4], offset in 0usize..64) {
        let mut fast = data.clone();
        let mut slow = data;
        apply_mask(&mut fast, key, offset);
        naive_mask(&mut slow, key, offset);
        prop_assert_eq!(fast, slow);
    }

    #[test]
    fn mask_in_pieces_equals_whole(data in bytes(0..300), key: [u8; 4], cut: prop::sample::Index) {
        let cut = cut.index(data.len() + 1);
        let mut whole = data.clone();
        apply_mask(&mut whole, key, 0);
        let mut pieces = data;
        let (a, b) = pieces.split_at_mut(cut);
        apply_mask(a, key, 0);
        apply_mask(b, key, cut);
        prop_assert_eq!(whole, pieces);
    }
}

#[test]
fn mask_all_offsets_and_lengths() {
    let key = [0x37, 0xfa, 0x21, 0x3d];
    for len in 0..300 {
        let data: Vec<u8> = (0..len).map(|i: usize| (i * 7 + 3) as u8).collect();
        for offset in 0..8 {
            let mut fast = data.clone();
            let mut slow = data.clone();
            apply_mask(&mut fast, key, offset);
            naive_mask(&mut slow, key, offset);
            assert_eq!(fast, slow, "len {len} offset {offset}");
            apply_mask(&mut fast, key, offset);
            assert_eq!(fast, data, "masking twice restores");
        }
    }
}

#[test]
fn mask_rfc_example() {
    // RFC 6455 5.7: "Hello" masked with 37 fa 21 3d.
    let mut out = Vec::new();
    write_frame(&mut out, Opcode::Text, b"Hello", [0x37, 0xfa, 0x21, 0x3d]);
    assert_eq!(out, [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
}

// ---------------------------------------------------------------- client frames

#[test]
fn write_frame_length_encodings() {
    let key = [1, 2, 3, 4];
    for (len, head_len, len_byte) in [
        (0usize, 2usize, 0u8),
        (125, 2, 125),
        (126, 4, 126),
        (65535, 4, 126),
        (65536, 10, 127),
        (100_000, 10, 127),
    ] {
        let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let mut out = vec![0xAA]; // appends, never overwrites
        write_frame(&mut out, Opcode::Binary, &payload, key);
        assert_eq!(out[0], 0xAA);
        let frame = &out[1..];
        assert_eq!(frame.len(), head_len + 4 + len);
        assert_eq!(frame[1], 0x80 | len_byte);
        assert_eq!(&frame[head_len..head_len + 4], &key);
        let (first, decoded) = decode_client_frame(frame);
        assert_eq!(first, 0x82);
        assert_eq!(decoded, payload);
    }
}

#[test]
fn write_frame_opcodes() {
    for (opcode, byte) in [
        (Opcode::Continuation, 0x80),
        (Opcode::Text, 0x81),
        (Opcode::Binary, 0x82),
        (Opcode::Close, 0x88),
        (Opcode::Ping, 0x89),
        (Opcode::Pong, 0x8A),
    ] {
        let mut out = Vec::new();
        write_frame(&mut out, opcode, b"x", [9, 8, 7, 6]);
        assert_eq!(decode_client_frame(&out), (byte, b"x".to_vec()));
    }
}

#[test]
fn write_close_variants() {
    let key = [0xde, 0xad, 0xbe, 0xef];
    let mut out = Vec::new();
    write_close(&mut out, Some(1000), "bye", key);
    assert_eq!(decode_client_frame(&out), (0x88, b"\x03\xe8bye".to_vec()));

    out.clear();
    write_close(&mut out, None, "ignored without a code", key);
    assert_eq!(decode_client_frame(&out), (0x88, Vec::new()));

    out.clear();
    write_close(&mut out, Some(4000), "", key);
    assert_eq!(decode_client_frame(&out), (0x88, vec![0x0f, 0xa0]));
}

#[test]
fn write_close_truncates_at_utf8_boundary() {
    let key = [1, 2, 3, 4];
    // 'é' is 2 bytes: 61 of them are 122 bytes, 62 would be 124 > 123.
    let reason = "é".repeat(100);
    let mut out = Vec::new();
    write_close(&mut out, Some(1001), &reason, key);
    let (_, payload) = decode_client_frame(&out);
    assert_eq!(payload.len(), 2 + 122);
    assert_eq!(std::str::from_utf8(&payload[2..]).unwrap(), "é".repeat(61));

    // ASCII fills exactly 123 bytes: the whole frame is a legal 125-byte control frame.
    out.clear();
    write_close(&mut out, Some(1001), &"a".repeat(300), key);
    let (_, payload) = decode_client_frame(&out);
    assert_eq!(payload.len(), 125);

    // 4-byte characters: 30 of them are 120 bytes.
    out.clear();
    write_close(&mut out, Some(1001), &"😀".repeat(40), key);
    let (_, payload) = decode_client_frame(&out);
    assert_eq!(std::str::from_utf8(&payload[2..]).unwrap(), "😀".repeat(30));
}

#[test]
fn client_close_parses_back_through_server_parser() {
    // Our close payload is accepted by our own validation rules.
    let mut out = Vec::new();
    write_close(&mut out, Some(1000), "done", [0, 0, 0, 0]);
    let (_, payload) = decode_client_frame(&out);
    let (events, result) = parse(&frame(true, 8, &payload));
    result.unwrap();
    assert_eq!(events, [Ev::Close(Some(1000), "done".into())]);
}

// ---------------------------------------------------------------- parsing basics

#[test]
fn parses_all_length_encodings() {
    for len in [0usize, 1, 125, 126, 127, 1000, 65535, 65536, 70_000] {
        let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let (events, result) = parse(&frame(true, 2, &payload));
        result.unwrap();
        assert_eq!(events, [Ev::Binary(payload)], "len {len}");
    }
}

#[test]
fn parses_text_ping_pong() {
    let mut data = frame(true, 1, "héllo".as_bytes());
    data.extend(frame(true, 9, b"ping!"));
    data.extend(frame(true, 10, b""));
    data.extend(frame(true, 2, &[0, 255]));
    let (events, result) = parse(&data);
    result.unwrap();
    assert_eq!(
        events,
        [
            Ev::Text("héllo".into()),
            Ev::Ping(b"ping!".to_vec()),
            Ev::Pong(Vec::new()),
            Ev::Binary(vec![0, 255])
        ]
    );
}

#[test]
fn events_borrow_from_input_without_copy() {
    let mut data = frame(true, 1, b"first");
    data.extend(frame(true, 2, &[7; 300]));
    let range = data.as_ptr_range();
    let mut p = FrameParser::default();
    let mut seen = 0;
    p.feed(&data, |e| {
        let b = match e {
            WsEvent::Text(t) => t.as_bytes(),
            WsEvent::Binary(b) => b,
            _ => panic!("unexpected {e:?}"),
        };
        assert!(range.contains(&b.as_ptr()), "payload must borrow the input");
        seen += 1;
        Ok::<(), Infallible>(())
    })
    .unwrap();
    assert_eq!(seen, 2);
    assert_eq!(p.buffered_len(), 0);
    assert_eq!(p.buf.capacity(), 0, "nothing was buffered");
}

#[test]
fn partial_frame_is_buffered_then_completed() {
    let mut data = frame(true, 1, b"complete");
    let second = frame(true, 1, b"split across reads");
    data.extend_from_slice(&second[..5]);
    let mut p = FrameParser::default();
    let mut events = Vec::new();
    feed(&mut p, &data, &mut events).unwrap();
    assert_eq!(events, [Ev::Text("complete".into())]);
    assert_eq!(p.buffered_len(), 5);

    let mut rest = second[5..].to_vec();
    rest.extend(frame(true, 1, b"next"));
    rest.extend_from_slice(&frame(true, 1, b"tail")[..3]);
    feed(&mut p, &rest, &mut events).unwrap();
    assert_eq!(
        events,
        [Ev::Text("complete".into()), Ev::Text("split across reads".into()), Ev::Text("next".into())]
    );
    assert_eq!(p.buffered_len(), 3);
}

#[test]
fn byte_by_byte_feeding() {
    let mut data = frame(true, 1, b"a");
    data.extend(frame(true, 2, &[1u8; 300]));
    data.extend(frame(true, 2, &vec![2u8; 70_000]));
    data.extend(close_frame(1000, b"ok"));
    let mut p = FrameParser::default();
    let mut events = Vec::new();
    for b in &data {
        feed(&mut p, std::slice::from_ref(b), &mut events).unwrap();
    }
    assert_eq!(
        events,
        [
            Ev::Text("a".into()),
            Ev::Binary(vec![1; 300]),
            Ev::Binary(vec![2; 70_000]),
            Ev::Close(Some(1000), "ok".into())
        ]
    );
}

#[test]
fn empty_feed_is_harmless() {
    let mut p = FrameParser::default();
    let mut events = Vec::new();
    feed(&mut p, &[], &mut events).unwrap();
    feed(&mut p, &[0x81], &mut events).unwrap();
    feed(&mut p, &[], &mut events).unwrap();
    feed(&mut p, &[0x01, b'x'], &mut events).unwrap();
    assert_eq!(events, [Ev::Text("x".into())]);
}

// ---------------------------------------------------------------- fragmentation

#[test]
fn fragmented_message_with_interleaved_control_frames() {
    let mut data = frame(false, 1, b"Hel");
    data.extend(frame(true, 9, b"p1"));
    data.extend(frame(false, 0, b"lo"));
    data.extend(frame(true, 10, b"p2"));
    data.extend(frame(false, 0, b""));
    data.extend(frame(true, 0, b" world"));
    data.extend(frame(true, 2, b"after"));
    let (events, result) = parse(&data);
    result.unwrap();
    assert_eq!(
        events,
        [
            Ev::Ping(b"p1".to_vec()),
            Ev::Pong(b"p2".to_vec()),
            Ev::Text("Hello world".into()),
            Ev::Binary(b"after".to_vec())
        ]
    );
}

#[test]
fn fragmented_binary_and_buffered_len() {
    let mut p = FrameParser::default();
    let mut events = Vec::new();
    feed(&mut p, &frame(false, 2, &[1, 2, 3]), &mut events).unwrap();
    assert_eq!(p.buffered_len(), 3);
    feed(&mut p, &frame(false, 0, &[4]), &mut events).unwrap();
    assert_eq!(p.buffered_len(), 4);
    assert!(events.is_empty());
    feed(&mut p, &frame(true, 0, &[5]), &mut events).unwrap();
    assert_eq!(events, [Ev::Binary(vec![1, 2, 3, 4, 5])]);
    assert_eq!(p.buffered_len(), 0);
}

#[test]
fn multibyte_char_split_across_fragments() {
    let text = "€uro😀";
    let bytes = text.as_bytes();
    for cut in 1..bytes.len() {
        let mut data = frame(false, 1, &bytes[..cut]);
        data.extend(frame(true, 0, &bytes[cut..]));
        let (events, result) = parse(&data);
        result.unwrap();
        assert_eq!(events, [Ev::Text(text.into())], "cut {cut}");
    }
}

#[test]
fn invalid_utf8_text() {
    assert_eq!(parse_err(&frame(true, 1, b"ok\xff")), WsError::InvalidUtf8);
    // Truncated multibyte char at the end of a whole message.
    assert_eq!(parse_err(&frame(true, 1, b"\xe2\x82")), WsError::InvalidUtf8);
    // Invalid after reassembly.
    let mut data = frame(false, 1, b"\xe2\x82");
    data.extend(frame(true, 0, b"x"));
    assert_eq!(parse_err(&data), WsError::InvalidUtf8);
    // Binary is never validated.
    parse(&frame(true, 2, b"\xff")).1.unwrap();
}

// ---------------------------------------------------------------- protocol errors

#[test]
fn reserved_bits() {
    for rsv in [0x40, 0x20, 0x10, 0x70] {
        assert_eq!(parse_err(&[0x81 | rsv, 0]), WsError::ReservedBits);
    }
}

#[test]
fn reserved_opcodes() {
    for op in (3..=7).chain(11..=15) {
        assert_eq!(parse_err(&[0x80 | op, 0]), WsError::ReservedOpcode(op));
    }
}

#[test]
fn masked_server_frame() {
    assert_eq!(parse_err(&[0x81, 0x81, 1, 2, 3, 4, b'x']), WsError::MaskedServerFrame);
}

#[test]
fn control_frame_rules() {
    for op in [8u8, 9, 10] {
        assert_eq!(parse_err(&[0x80 | op, 126, 0, 126]), WsError::ControlFrameTooLong);
        assert_eq!(parse_err(&[0x80 | op, 127]), WsError::ControlFrameTooLong);
        assert_eq!(parse_err(&[op, 0]), WsError::FragmentedControl);
    }
    // 125 bytes is the legal maximum.
    let (events, result) = parse(&frame(true, 9, &[0; 125]));
    result.unwrap();
    assert_eq!(events, [Ev::Ping(vec![0; 125])]);
}

#[test]
fn continuation_order() {
    assert_eq!(parse_err(&frame(true, 0, b"x")), WsError::UnexpectedContinuation);
    assert_eq!(parse_err(&frame(false, 0, b"x")), WsError::UnexpectedContinuation);
    let mut data = frame(false, 1, b"a");
    data.extend(frame(true, 1, b"b"));
    assert_eq!(parse_err(&data), WsError::ExpectedContinuation);
    let mut data = frame(false, 2, b"a");
    data.extend(frame(false, 2, b"b"));
    assert_eq!(parse_err(&data), WsError::ExpectedContinuation);
    // After a completed fragmented message, a continuation is unexpected again.
    let mut data = frame(false, 2, b"a");
    data.extend(frame(true, 0, b"b"));
    data.extend(frame(true, 0, b"c"));
    let (events, result) = parse(&data);
    assert_eq!(events, [Ev::Binary(b"ab".to_vec())]);
    assert_eq!(result, Err(WsError::UnexpectedContinuation));
}

#[test]
fn message_too_large_single_frame() {
    let (events, result) = parse_with(10, &frame(true, 2, &[0; 10]));
    result.unwrap();
    assert_eq!(events.len(), 1);
    let (_, result) = parse_with(10, &frame(true, 2, &[0; 11]));
    assert_eq!(result, Err(WsError::MessageTooLarge { size: 11, max: 10 }));
    let (_, result) = parse_with(200, &frame(false, 1, &[b'a'; 300]));
    assert_eq!(result, Err(WsError::MessageTooLarge { size: 300, max: 200 }));
}

#[test]
fn message_too_large_across_fragments() {
    let mut data = frame(false, 2, &[0; 6]);
    data.extend(frame(false, 0, &[0; 4]));
    data.extend(frame(true, 0, &[0; 1]));
    let (events, result) = parse_with(10, &data);
    assert!(events.is_empty());
    assert_eq!(result, Err(WsError::MessageTooLarge { size: 11, max: 10 }));
}

#[test]
fn control_frames_are_not_bound_by_max_message_size() {
    let (events, result) = parse_with(0, &frame(true, 9, b"ping"));
    result.unwrap();
    assert_eq!(events, [Ev::Ping(b"ping".to_vec())]);
}

#[test]
fn absurd_length_rejected_from_header_alone() {
    let mut p = FrameParser::default();
    let mut events = Vec::new();
    let header = [0x82, 127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
    for &b in &header[..9] {
        feed(&mut p, &[b], &mut events).unwrap();
    }
    assert_eq!(p.buffered_len(), 9);
    let err = feed(&mut p, &header[9..], &mut events).unwrap_err();
    assert_eq!(err, WsError::MessageTooLarge { size: 0x7fff_ffff_ffff_ffff, max: DEFAULT_MAX_MESSAGE_SIZE });
    assert_eq!(p.buffered_len(), 0, "poisoning frees the buffers");

    // The top bit is illegal even when no maximum applies.
    let (_, result) = parse_with(usize::MAX, &[0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0]);
    assert!(matches!(result, Err(WsError::MessageTooLarge { size, .. }) if size == 1 << 63));
    let (_, result) = parse_with(usize::MAX, &[0x82, 127, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    assert!(matches!(result, Err(WsError::MessageTooLarge { .. })));
}

#[test]
fn continuation_size_saturates() {
    let mut data = frame(false, 2, &[0; 5]);
    data.extend([0x80, 127, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    let (_, result) = parse(&data);
    assert_eq!(result, Err(WsError::MessageTooLarge { size: u64::MAX, max: DEFAULT_MAX_MESSAGE_SIZE }));
}

#[test]
fn non_minimal_lengths_rejected() {
    assert_eq!(parse_err(&[0x82, 126, 0, 125]), WsError::NonMinimalLength);
    assert_eq!(parse_err(&[0x82, 126, 0, 0]), WsError::NonMinimalLength);
    assert_eq!(parse_err(&[0x82, 127, 0, 0, 0, 0, 0, 0, 0xff, 0xff]), WsError::NonMinimalLength);
    assert_eq!(parse_err(&[0x82, 127, 0, 0, 0, 0, 0, 0, 0, 5]), WsError::NonMinimalLength);
    // The smallest legal values of each encoding.
    parse(&frame(true, 2, &[0; 126])).1.unwrap();
    parse(&frame(true, 2, &vec![0; 65536])).1.unwrap();
}

#[test]
fn error_reported_before_payload_arrives() {
    let mut p = FrameParser::default();
    let mut events = Vec::new();
    feed(&mut p, &[0x81], &mut events).unwrap();
    assert_eq!(feed(&mut p, &[0x81], &mut events), Err(WsError::MaskedServerFrame));
}

#[test]
fn poisoned_parser_repeats_error() {
    let mut p = FrameParser::default();
    let mut events = Vec::new();
    assert_eq!(feed(&mut p, &[0xC1, 0], &mut events), Err(WsError::ReservedBits));
    assert_eq!(feed(&mut p, &frame(true, 1, b"ok"), &mut events), Err(WsError::ReservedBits));
    assert_eq!(feed(&mut p, &[], &mut events), Err(WsError::ReservedBits));
    assert!(events.is_empty());
}

#[test]
fn events_before_error_are_delivered() {
    let mut data = frame(true, 1, b"good");
    data.extend([0x83, 0]);
    let (events, result) = parse(&data);
    assert_eq!(events, [Ev::Text("good".into())]);
    assert_eq!(result, Err(WsError::ReservedOpcode(3)));
}

// ---------------------------------------------------------------- close

#[test]
fn close_without_payload() {
    let (events, result) = parse(&frame(true, 8, b""));
    result.unwrap();
    assert_eq!(events, [Ev::Close(None, String::new())]);
}

#[test]
fn close_with_code_and_reason() {
    let (events, result) = parse(&close_frame(1001, "going away ☃".as_bytes()));
    result.unwrap();
    assert_eq!(events, [Ev::Close(Some(1001), "going away ☃".into())]);
}

#[test]
fn close_codes() {
    let valid = (1000..=1003).chain(1007..=1014).chain([3000, 3999, 4000, 4999]);
    for code in valid {
        let (events, result) = parse(&close_frame(code, b""));
        assert_eq!(result, Ok(()), "code {code}");
        assert_eq!(events, [Ev::Close(Some(code), String::new())]);
    }
    let invalid = [0u16, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535];
    for code in invalid {
        assert_eq!(parse_err(&close_frame(code, b"")), WsError::BadCloseCode(code));
    }
}

#[test]
fn close_payload_errors() {
    assert_eq!(parse_err(&frame(true, 8, &[0x03])), WsError::BadClosePayload);
    assert_eq!(parse_err(&close_frame(1000, b"\xc3")), WsError::InvalidUtf8);
}

#[test]
fn bytes_after_close_are_ignored() {
    let mut data = close_frame(1000, b"");
    data.extend(frame(true, 1, b"ignored"));
    data.extend([0xff, 0xff, 0xff]); // garbage would be an error if parsed
    let mut p = FrameParser::default();
    let mut events = Vec::new();
    feed(&mut p, &data, &mut events).unwrap();
    assert!(p.is_closed());
    assert_eq!(p.buffered_len(), 0);
    feed(&mut p, &[0xff, 0xff], &mut events).unwrap();
    assert_eq!(events, [Ev::Close(Some(1000), String::new())]);
}

#[test]
fn close_completed_from_buffer_ignores_rest() {
    let close = close_frame(1000, b"x");
    let mut p = FrameParser::default();
    let mut events = Vec::new();
    feed(&mut p, &close[..2], &mut events).unwrap();
    assert!(!p.is_closed());
    let mut rest = close[2..].to_vec();
    rest.extend([0xff, 0x00, 0x01]);
    feed(&mut p, &rest, &mut events).unwrap();
    assert!(p.is_closed());
    assert_eq!(p.buffered_len(), 0);
    assert_eq!(events, [Ev::Close(Some(1000), "x".into())]);
}

#[test]
fn close_during_fragmented_message() {
    let mut data = frame(false, 1, b"partial");
    data.extend(close_frame(1000, b""));
    let mut p = FrameParser::default();
    let mut events = Vec::new();
    feed(&mut p, &data, &mut events).unwrap();
    assert_eq!(events, [Ev::Close(Some(1000), String::new())]);
    assert_eq!(p.buffered_len(), 0, "the partial message is dropped");
}

// ---------------------------------------------------------------- callback errors

#[test]
fn callback_error_stops_and_resumes() {
    let mut data = Vec::new();
    for i in 0..5u8 {
        data.extend(frame(true, 2, &[i]));
    }
    data.extend_from_slice(&frame(true, 2, &[5])[..1]);
    let mut p = FrameParser::default();
    let mut seen = Vec::new();
    let mut abort_at = 1u8;
    let run = |p: &mut FrameParser, bytes: &[u8], seen: &mut Vec<u8>, abort_at: u8| {
        p.feed(bytes, |e| {
            let WsEvent::Binary(b) = e else { panic!("unexpected {e:?}") };
            seen.push(b[0]);
            if b[0] == abort_at {
                Err("stop")
            } else {
                Ok(())
            }
        })
    };
    assert_eq!(run(&mut p, &data, &mut seen, abort_at), Err(FeedError::Callback("stop")));
    assert_eq!(seen, [0, 1]);
    abort_at = 3;
    assert_eq!(run(&mut p, &[], &mut seen, abort_at), Err(FeedError::Callback("stop")));
    assert_eq!(seen, [0, 1, 2, 3]);
    abort_at = 99;
    run(&mut p, &[], &mut seen, abort_at).unwrap();
    assert_eq!(seen, [0, 1, 2, 3, 4]);
    assert_eq!(p.buffered_len(), 1);
    run(&mut p, &[1, 5], &mut seen, abort_at).unwrap();
    assert_eq!(seen, [0, 1, 2, 3, 4, 5]);
    assert_eq!(p.buffered_len(), 0);
}

#[test]
fn callback_error_on_buffered_frame_keeps_following_data() {
    let first = frame(true, 2, b"one");
    let mut p = FrameParser::default();
    let mut seen = Vec::new();
    let record = |e: WsEvent<'_>, seen: &mut Vec<Ev>| -> Result<(), &'static str> {
        seen.push(e.into());
        if seen.len() == 1 {
            Err("stop")
        } else {
            Ok(())
        }
    };
    p.feed(&first[..2], |e| record(e, &mut seen)).unwrap();
    let mut rest = first[2..].to_vec();
    rest.extend(frame(true, 2, b"two"));
    rest.extend(frame(true, 2, b"three"));
    assert_eq!(p.feed(&rest, |e| record(e, &mut seen)), Err(FeedError::Callback("stop")));
    p.feed(&[], |e| record(e, &mut seen)).unwrap();
    assert_eq!(
        seen,
        [Ev::Binary(b"one".to_vec()), Ev::Binary(b"two".to_vec()), Ev::Binary(b"three".to_vec())]
    );
}

#[test]
fn callback_error_then_more_data_keeps_order() {
    // After an abort the buffer holds several frames and a partial one; new data must be
    // appended after them.
    let mut data = frame(true, 2, &[0]);
    data.extend(frame(true, 2, &[1]));
    data.extend(frame(true, 2, &[2]));
    let third = frame(true, 2, &[3; 200]);
    data.extend_from_slice(&third[..50]);
    let mut p = FrameParser::default();
    let mut seen = Vec::new();
    let result = p.feed(&data, |e| {
        seen.push(Ev::from(e));
        Err(())
    });
    assert_eq!(result, Err(FeedError::Callback(())));
    let mut rest = third[50..].to_vec();
    rest.extend(frame(true, 2, &[4]));
    p.feed(&rest, |e| {
        seen.push(Ev::from(e));
        Ok::<(), ()>(())
    })
    .unwrap();
    assert_eq!(
        seen,
        [
            Ev::Binary(vec![0]),
            Ev::Binary(vec![1]),
            Ev::Binary(vec![2]),
            Ev::Binary(vec![3; 200]),
            Ev::Binary(vec![4])
        ]
    );
    assert_eq!(p.buffered_len(), 0);
}

#[test]
fn callback_error_on_close_still_closes() {
    let mut p = FrameParser::default();
    let mut data = close_frame(1000, b"");
    data.extend(frame(true, 1, b"late"));
    assert_eq!(p.feed(&data, |_| Err(7)), Err(FeedError::Callback(7)));
    assert!(p.is_closed());
    assert_eq!(p.buffered_len(), 0);
    p.feed(&[], |_| Err(8)).unwrap();
}

// ---------------------------------------------------------------- memory

#[test]
fn large_buffered_frame_memory_is_released() {
    let payload = vec![9u8; 3 * 1024 * 1024];
    let data = frame(true, 2, &payload);
    let mut p = FrameParser::default();
    let mut total = 0;
    for chunk in data.chunks(64 * 1024) {
        p.feed(chunk, |e| {
            let WsEvent::Binary(b) = e else { panic!() };
            total += b.len();
            Ok::<(), Infallible>(())
        })
        .unwrap();
        assert!(p.buf.capacity() <= data.len(), "exact reservation, no doubling");
    }
    assert_eq!(total, payload.len());
    assert_eq!(p.buffered_len(), 0);
    assert!(p.buf.capacity() <= SHRINK_THRESHOLD);
}

#[test]
fn large_fragmented_message_memory_is_released() {
    let piece = vec![1u8; 1024 * 1024];
    let mut data = frame(false, 2, &piece);
    data.extend(frame(false, 0, &piece));
    data.extend(frame(true, 0, &piece));
    let mut p = FrameParser::default();
    let mut events = Vec::new();
    feed(&mut p, &data, &mut events).unwrap();
    assert_eq!(events, [Ev::Binary(vec![1; 3 * 1024 * 1024])]);
    assert!(p.frag.capacity() <= SHRINK_THRESHOLD);
}

// ---------------------------------------------------------------- random round trips

/// One message of a generated stream and how to send it.
#[derive(Debug, Clone)]
enum Msg {
    Text(String, Vec<prop::sample::Index>),
    Binary(Vec<u8>, Vec<prop::sample::Index>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
}

fn bytes(len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), len)
}

fn indices(len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<prop::sample::Index>> {
    prop::collection::vec(any::<prop::sample::Index>(), len)
}

fn payload_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => prop::collection::vec(any::<u8>(), 0..130),
        2 => prop::collection::vec(any::<u8>(), 120..400),
        1 => (65_530usize..65_545, any::<u8>()).prop_map(|(n, b)| vec![b; n]),
    ]
}

fn msg_strategy() -> impl Strategy<Value = Msg> {
    let cuts = || prop::collection::vec(any::<prop::sample::Index>(), 0..4);
    prop_oneof![
        3 => (".{0,60}", cuts()).prop_map(|(s, c)| Msg::Text(s, c)),
        3 => (payload_strategy(), cuts()).prop_map(|(p, c)| Msg::Binary(p, c)),
        1 => prop::collection::vec(any::<u8>(), 0..=125).prop_map(Msg::Ping),
        1 => prop::collection::vec(any::<u8>(), 0..=125).prop_map(Msg::Pong),
    ]
}

/// Appends a data message, fragmented at `cuts`, with a ping between fragments.
fn encode_fragmented(
    out: &mut Vec<u8>,
    events: &mut Vec<Ev>,
    opcode: u8,
    payload: &[u8],
    cuts: &[prop::sample::Index],
) {
    let mut points: Vec<usize> = cuts.iter().map(|c| c.index(payload.len() + 1)).collect();
    points.sort_unstable();
    let mut start = 0;
    let mut op = opcode;
    for (i, end) in points.iter().copied().enumerate() {
        out.extend(frame(false, op, &payload[start..end]));
        let ping = vec![i as u8];
        out.extend(frame(true, 9, &ping));
        events.push(Ev::Ping(ping));
        op = 0;
        start = end;
    }
    out.extend(frame(true, op, &payload[start..]));
}

fn encode(msgs: &[Msg]) -> (Vec<u8>, Vec<Ev>) {
    let mut out = Vec::new();
    let mut events = Vec::new();
    for m in msgs {
        match m {
            Msg::Text(s, cuts) => {
                encode_fragmented(&mut out, &mut events, 1, s.as_bytes(), cuts);
                events.push(Ev::Text(s.clone()));
            }
            Msg::Binary(b, cuts) => {
                encode_fragmented(&mut out, &mut events, 2, b, cuts);
                events.push(Ev::Binary(b.clone()));
            }
            Msg::Ping(b) => {
                out.extend(frame(true, 9, b));
                events.push(Ev::Ping(b.clone()));
            }
            Msg::Pong(b) => {
                out.extend(frame(true, 10, b));
                events.push(Ev::Pong(b.clone()));
            }
        }
    }
    (out, events)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn any_chunking_gives_same_events(
        msgs in prop::collection::vec(msg_strategy(), 0..12),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..40),
        close in any::<bool>(),
    ) {
        let (mut data, mut expected) = encode(&msgs);
        if close {
            data.extend(close_frame(1000, "fin".as_bytes()));
            data.extend(frame(true, 1, b"after close"));
            expected.push(Ev::Close(Some(1000), "fin".into()));
        }
        let cuts: Vec<usize> = cuts.iter().map(|c| c.index(data.len() + 1)).collect();
        let (whole, result) = parse(&data);
        prop_assert_eq!(result, Ok(()));
        prop_assert_eq!(&whole, &expected);
        let (chunked, result) = parse_chunked(&data, &cuts);
        prop_assert_eq!(result, Ok(()));
        prop_assert_eq!(chunked, expected);
    }

    #[test]
    fn chunked_errors_match_whole(
        msgs in prop::collection::vec(msg_strategy(), 0..6),
        garbage in prop::collection::vec(any::<u8>(), 1..20),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..20),
    ) {
        // Whatever follows valid frames, chunking never changes the outcome.
        let (mut data, _) = encode(&msgs);
        data.extend(garbage);
        let cuts: Vec<usize> = cuts.iter().map(|c| c.index(data.len() + 1)).collect();
        let whole = parse(&data);
        let chunked = parse_chunked(&data, &cuts);
        prop_assert_eq!(whole, chunked);
    }

    #[test]
    fn client_frames_round_trip(payload in payload_strategy(), key: [u8; 4]) {
        let mut out = Vec::new();
        write_frame(&mut out, Opcode::Binary, &payload, key);
        prop_assert_eq!(decode_client_frame(&out), (0x82, payload));
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in bytes(0..200), cuts in indices(0..10)) {
        let cuts: Vec<usize> = cuts.iter().map(|c| c.index(data.len() + 1)).collect();
        let _ = parse_chunked(&data, &cuts);
        let _ = parse_handshake_response(&data, KEY, &["phoenix"]);
    }
}

// ---------------------------------------------------------------- opcode

#[test]
fn opcode_conversions() {
    for op in [Opcode::Continuation, Opcode::Text, Opcode::Binary, Opcode::Close, Opcode::Ping, Opcode::Pong]
    {
        assert_eq!(Opcode::try_from(op as u8), Ok(op));
        assert_eq!(op.is_control(), matches!(op, Opcode::Close | Opcode::Ping | Opcode::Pong));
    }
    assert_eq!(Opcode::try_from(3), Err(WsError::ReservedOpcode(3)));
}

// ---------------------------------------------------------------- handshake

#[test]
fn accept_key_rfc_example() {
    assert_eq!(accept_key(KEY), ACCEPT);
}

#[test]
fn handshake_request_text() {
    let req = HandshakeRequest {
        host: "example.com:4000",
        path: "/socket/websocket?vsn=2.0.0",
        key: KEY,
        protocols: &["phoenix", "base64url.bearer.phx.abc"],
        headers: &[("Origin", "http://example.com"), ("User-Agent", "phoenix_fast")],
        offer_deflate: false,
    };
    let mut out = b"prefix".to_vec();
    write_handshake_request(&req, &mut out);
    let expected = "prefixGET /socket/websocket?vsn=2.0.0 HTTP/1.1\r\n\
        Host: example.com:4000\r\n\
        Upgrade: websocket\r\n\
        Connection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\n\
        Sec-WebSocket-Protocol: phoenix, base64url.bearer.phx.abc\r\n\
        Origin: http://example.com\r\n\
        User-Agent: phoenix_fast\r\n\
        \r\n";
    assert_eq!(std::str::from_utf8(&out).unwrap(), expected);
}

#[test]
fn handshake_request_minimal_and_sanitized() {
    let req = HandshakeRequest {
        host: "h",
        path: "",
        key: KEY,
        protocols: &[],
        headers: &[
            ("Cookie", "a=1\r\nX-Injected: yes"),
            ("sec-websocket-protocol", "sneaky"),
            ("HOST", "other"),
            ("Sec-WebSocket-Extensions", "permessage-deflate"),
        ],
        offer_deflate: false,
    };
    let mut out = Vec::new();
    write_handshake_request(&req, &mut out);
    let expected = "GET / HTTP/1.1\r\n\
        Host: h\r\n\
        Upgrade: websocket\r\n\
        Connection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\n\
        Cookie: a=1  X-Injected: yes\r\n\
        \r\n";
    assert_eq!(std::str::from_utf8(&out).unwrap(), expected);
}

fn response(extra: &str) -> String {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {ACCEPT}\r\n{extra}\r\n"
    )
}

#[test]
fn handshake_response_ok() {
    let text = response("Server: Cowboy\r\n");
    let r = parse_handshake_response(text.as_bytes(), KEY, &[]).unwrap().unwrap();
    assert_eq!(r.consumed, text.len());
    assert_eq!(r.protocol, None);
    assert_eq!(
        r.headers,
        [
            ("upgrade".to_owned(), "websocket".to_owned()),
            ("connection".to_owned(), "Upgrade".to_owned()),
            ("sec-websocket-accept".to_owned(), ACCEPT.to_owned()),
            ("server".to_owned(), "Cowboy".to_owned()),
        ]
    );
}

#[test]
fn handshake_response_case_insensitive() {
    let text = format!(
        "HTTP/1.1 101 OK\r\nUPGRADE: WebSocket\r\nconnection: keep-alive, UPGRADE\r\n\
         sec-websocket-accept:{ACCEPT}  \r\n\r\n"
    );
    let r = parse_handshake_response(text.as_bytes(), KEY, &[]).unwrap().unwrap();
    assert_eq!(r.consumed, text.len());
}

#[test]
fn handshake_response_partial() {
    let text = response("Sec-WebSocket-Protocol: phoenix\r\n");
    let bytes = text.as_bytes();
    for end in 0..bytes.len() {
        assert_eq!(parse_handshake_response(&bytes[..end], KEY, &["phoenix"]), Ok(None), "prefix {end}");
    }
    let r = parse_handshake_response(bytes, KEY, &["phoenix"]).unwrap().unwrap();
    assert_eq!(r.protocol.as_deref(), Some("phoenix"));
}

#[test]
fn handshake_response_followed_by_frames() {
    let mut bytes = response("").into_bytes();
    let head = bytes.len();
    bytes.extend(frame(true, 1, b"[null,null,\"phoenix\",\"heartbeat\",{}]"));
    bytes.extend(frame(true, 9, b""));
    let r = parse_handshake_response(&bytes, KEY, &[]).unwrap().unwrap();
    assert_eq!(r.consumed, head);
    let (events, result) = parse(&bytes[r.consumed..]);
    result.unwrap();
    assert_eq!(events, [Ev::Text("[null,null,\"phoenix\",\"heartbeat\",{}]".into()), Ev::Ping(Vec::new())]);
}

#[test]
fn handshake_response_403() {
    let text = b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n";
    assert_eq!(parse_handshake_response(text, KEY, &[]), Err(WsError::BadStatus { status: 403 }));
    // Reported as soon as the status line is in, before the headers end.
    assert_eq!(
        parse_handshake_response(b"HTTP/1.1 403 Forbidden\r\n", KEY, &[]),
        Err(WsError::BadStatus { status: 403 })
    );
    // A status line cut short is not yet a verdict.
    assert_eq!(parse_handshake_response(b"HTTP/1.1 403", KEY, &[]), Ok(None));
    // Status wins over a malformed header.
    assert_eq!(
        parse_handshake_response(b"HTTP/1.1 500 Oops\r\nbad header\r\n\r\n", KEY, &[]),
        Err(WsError::BadStatus { status: 500 })
    );
    assert_eq!(
        parse_handshake_response(b"HTTP/1.0 200 OK\r\n\r\n", KEY, &[]),
        Err(WsError::BadStatus { status: 200 })
    );
}

#[test]
fn handshake_response_accept_errors() {
    let wrong = "HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\
                 Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n";
    assert_eq!(parse_handshake_response(wrong.as_bytes(), KEY, &[]), Err(WsError::BadAccept));
    let missing = "HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n";
    assert_eq!(parse_handshake_response(missing.as_bytes(), KEY, &[]), Err(WsError::BadAccept));
    let twice = response(&format!("Sec-WebSocket-Accept: {ACCEPT}\r\n"));
    assert_eq!(parse_handshake_response(twice.as_bytes(), KEY, &[]), Err(WsError::BadAccept));
    let other_key = response("");
    assert_eq!(
        parse_handshake_response(other_key.as_bytes(), "AQIDBAUGBwgJCgsMDQ4PEA==", &[]),
        Err(WsError::BadAccept)
    );
}

#[test]
fn handshake_response_upgrade_connection_errors() {
    let accept = format!("Sec-WebSocket-Accept: {ACCEPT}");
    let cases = [
        &["Connection: Upgrade", accept.as_str()][..],
        &["Upgrade: h2c", "Connection: Upgrade", &accept],
        &["Upgrade: websocket", &accept],
        &["Upgrade: websocket", "Connection: keep-alive, upgraded", &accept],
    ];
    let cases = cases.map(|lines| format!("HTTP/1.1 101 OK\r\n{}\r\n\r\n", lines.join("\r\n")));
    for text in cases {
        let result = parse_handshake_response(text.as_bytes(), KEY, &[]);
        assert!(matches!(result, Err(WsError::BadHandshake(_))), "{text:?} gave {result:?}");
    }
}

#[test]
fn handshake_response_subprotocols() {
    let offered = ["phoenix", "base64url.bearer.phx.abc"];
    let chosen = response("Sec-WebSocket-Protocol: base64url.bearer.phx.abc\r\n");
    let r = parse_handshake_response(chosen.as_bytes(), KEY, &offered).unwrap().unwrap();
    assert_eq!(r.protocol.as_deref(), Some("base64url.bearer.phx.abc"));

    let none = response("");
    let r = parse_handshake_response(none.as_bytes(), KEY, &offered).unwrap().unwrap();
    assert_eq!(r.protocol, None, "no protocol chosen is left to the caller");

    let unexpected = response("Sec-WebSocket-Protocol: mqtt\r\n");
    assert_eq!(
        parse_handshake_response(unexpected.as_bytes(), KEY, &offered),
        Err(WsError::BadSubprotocol("mqtt".into()))
    );
    assert_eq!(
        parse_handshake_response(unexpected.as_bytes(), KEY, &[]),
        Err(WsError::BadSubprotocol("mqtt".into()))
    );
    let list = response("Sec-WebSocket-Protocol: phoenix, base64url.bearer.phx.abc\r\n");
    assert!(matches!(
        parse_handshake_response(list.as_bytes(), KEY, &offered),
        Err(WsError::BadSubprotocol(_))
    ));
    let two = response("Sec-WebSocket-Protocol: phoenix\r\nSec-WebSocket-Protocol: phoenix\r\n");
    assert!(matches!(
        parse_handshake_response(two.as_bytes(), KEY, &offered),
        Err(WsError::BadSubprotocol(_))
    ));
    let case = response("Sec-WebSocket-Protocol: PHOENIX\r\n");
    assert!(matches!(
        parse_handshake_response(case.as_bytes(), KEY, &offered),
        Err(WsError::BadSubprotocol(_))
    ));
}

#[test]
fn handshake_response_extensions_rejected() {
    let text = response("Sec-WebSocket-Extensions: permessage-deflate\r\n");
    assert!(matches!(parse_handshake_response(text.as_bytes(), KEY, &[]), Err(WsError::BadHandshake(_))));
    let empty = response("Sec-WebSocket-Extensions: \r\n");
    assert!(parse_handshake_response(empty.as_bytes(), KEY, &[]).unwrap().is_some());
}

#[test]
fn handshake_response_malformed() {
    for text in
        [&b"FOO/1.1 101 OK\r\n\r\n"[..], b"HTTP/1.1 1O1 OK\r\n\r\n", b"HTTP/1.1 101 OK\r\nbad header\r\n\r\n"]
    {
        let result = parse_handshake_response(text, KEY, &[]);
        assert!(matches!(result, Err(WsError::BadHandshake(_))), "{text:?} gave {result:?}");
    }
}

#[test]
fn handshake_response_too_large() {
    let mut partial = b"HTTP/1.1 101 Switching Protocols\r\n".to_vec();
    while partial.len() < MAX_HANDSHAKE_SIZE {
        partial.extend_from_slice(b"X-Padding: ");
        partial.extend_from_slice(&[b'p'; 500]);
        partial.extend_from_slice(b"\r\n");
    }
    assert_eq!(parse_handshake_response(&partial, KEY, &[]), Err(WsError::HandshakeTooLarge));
    let mut complete = response("X-Big: ").into_bytes();
    complete.truncate(complete.len() - 2);
    complete.extend(std::iter::repeat_n(b'a', MAX_HANDSHAKE_SIZE));
    complete.extend_from_slice(b"\r\n\r\n");
    assert_eq!(parse_handshake_response(&complete, KEY, &[]), Err(WsError::HandshakeTooLarge));
    // Frames after a small head do not count towards the limit.
    let mut ok = response("").into_bytes();
    ok.extend(frame(true, 2, &vec![0; 20_000]));
    assert!(parse_handshake_response(&ok, KEY, &[]).unwrap().is_some());
}

#[test]
fn handshake_response_non_utf8_header_value_is_lossy() {
    let mut text = response("").into_bytes();
    let end = text.len() - 2;
    text.splice(end..end, b"X-Bin: \xff\r\n".iter().copied());
    let r = parse_handshake_response(&text, KEY, &[]).unwrap().unwrap();
    assert_eq!(r.headers.last(), Some(&("x-bin".to_owned(), "\u{fffd}".to_owned())));
}

// ---------------------------------------------------------------- errors

#[test]
fn error_messages_say_what_was_wrong() {
    let cases: [(WsError, &str); 19] = [
        (WsError::BadStatus { status: 403 }, "403"),
        (WsError::BadHandshake("no Upgrade".into()), "no Upgrade"),
        (WsError::BadAccept, "Sec-WebSocket-Accept"),
        (WsError::BadSubprotocol("mqtt".into()), "mqtt"),
        (WsError::HandshakeTooLarge, "16384"),
        (WsError::ReservedBits, "reserved bits"),
        (WsError::CompressedNonDataFrame, "control or continuation"),
        (WsError::BadCompressedData, "DEFLATE"),
        (WsError::ReservedOpcode(0xb), "0xb"),
        (WsError::MaskedServerFrame, "masked"),
        (WsError::ControlFrameTooLong, "125"),
        (WsError::FragmentedControl, "fragmented control"),
        (WsError::UnexpectedContinuation, "continuation"),
        (WsError::ExpectedContinuation, "in progress"),
        (WsError::MessageTooLarge { size: 99, max: 10 }, "99 bytes exceeds the maximum of 10"),
        (WsError::NonMinimalLength, "minimal"),
        (WsError::InvalidUtf8, "UTF-8"),
        (WsError::BadCloseCode(1005), "1005"),
        (WsError::BadClosePayload, "1 byte"),
    ];
    for (err, needle) in cases {
        let text = err.to_string();
        assert!(text.contains(needle), "{text:?} should mention {needle:?}");
    }
    assert_eq!(
        WsError::BadStatus { status: 403 }.to_string(),
        "WebSocket handshake failed: server answered HTTP 403 instead of 101 Switching Protocols"
    );
    assert_eq!(
        WsError::MaskedServerFrame.to_string(),
        "WebSocket protocol error: the server sent a masked frame"
    );
    assert!(WsError::HandshakeTooLarge.is_handshake());
    assert!(!WsError::InvalidUtf8.is_handshake());
    let feed_err: FeedError<std::fmt::Error> = FeedError::Ws(WsError::BadAccept);
    assert_eq!(feed_err.to_string(), WsError::BadAccept.to_string());
    assert!(std::error::Error::source(&feed_err).is_some());
}
