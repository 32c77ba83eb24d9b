use super::*;
use proptest::prelude::*;

fn header<'a>(
    join_ref: Option<&'a str>,
    ref_: Option<&'a str>,
    topic: &'a str,
    event: &'a str,
) -> Header<'a> {
    Header { join_ref, ref_, topic, event }
}

#[test]
fn v2_text_decodes_the_five_fields() {
    let f = decode_v2_text(br#"["1","2","room:lobby","new_msg",{"body":"hi"}]"#).unwrap();
    assert_eq!(f.join_ref.as_deref(), Some("1"));
    assert_eq!(f.ref_.as_deref(), Some("2"));
    assert_eq!(f.topic, "room:lobby");
    assert_eq!(f.event, "new_msg");
    assert_eq!(f.payload, Payload::Json(br#"{"body":"hi"}"#));
}

#[test]
fn v2_text_accepts_nulls_whitespace_and_escapes() {
    let f = decode_v2_text(b" [ null , null , \"t\\u00e9\" , \"e\\n\" , [1] ] ").unwrap();
    assert_eq!(f.join_ref, None);
    assert_eq!(f.ref_, None);
    assert_eq!(f.topic, "té");
    assert_eq!(f.event, "e\n");
    assert_eq!(f.payload, Payload::Json(b"[1]"));
}

#[test]
fn v2_text_rejects_malformed_frames() {
    let cases: &[(&[u8], &str)] = &[
        (b"", "empty frame"),
        (b"   ", "empty frame"),
        (b"{}", "expected '['"),
        (b"[]", "found 0"),
        (br#"["1","2","t"]"#, "found 3"),
        (br#"["1","2","t","e"]"#, "found 4"),
        (br#"["1","2","t","e",{},1]"#, "found 6"),
        (br#"["1","2","t","e",{},1,2]"#, "found 7"),
        (br#"[1,"2","t","e",{}]"#, "join_ref must be a string or null"),
        (br#"["1",2,"t","e",{}]"#, "ref must be a string or null"),
        (br#"["1","2",null,"e",{}]"#, "topic must be a string"),
        (br#"["1","2","t",5,{}]"#, "event must be a string"),
        (br#"["1","2","t","e",{"a":1]"#, "expected ']'"),
        (br#"["1","2","t","e",{"a":"1]"#, "unterminated"),
        (br#"["1","2","t","e",{}] x"#, "trailing data"),
        (b"[\"1\",\"2\",\"t\xff\",\"e\",{}]", "frame is not valid UTF-8"),
        (br#"["1" "2","t","e",{}]"#, "expected ','"),
    ];
    for (input, needle) in cases {
        let err = decode_v2_text(input).unwrap_err().to_string();
        assert!(err.contains(needle), "{:?}: {err}", String::from_utf8_lossy(input));
    }
}

#[test]
fn v2_text_round_trips_through_the_encoder() {
    let mut out = Vec::new();
    encode_v2_text(&mut out, &header(Some("1"), Some("5"), "room:\"x\"", "new_msg"), br#"{"a":1}"#);
    assert_eq!(out, br#"["1","5","room:\"x\"","new_msg",{"a":1}]"#);
    let f = decode_v2_text(&out).unwrap();
    assert_eq!(f.topic, "room:\"x\"");
    out.clear();
    encode_v2_text(&mut out, &header(None, Some("7"), "phoenix", "heartbeat"), b"{}");
    assert_eq!(out, br#"[null,"7","phoenix","heartbeat",{}]"#);
}

#[test]
fn v1_text_decodes_keys_in_any_order() {
    let f = decode_v1_text(br#"{"ref":null,"payload":{"x":[1,"}"]},"event":"e","extra":[{}],"topic":"t"}"#)
        .unwrap();
    assert_eq!(f.topic, "t");
    assert_eq!(f.event, "e");
    assert_eq!(f.ref_, None);
    assert_eq!(f.join_ref, None);
    assert_eq!(f.payload, Payload::Json(br#"{"x":[1,"}"]}"#));
    let f = decode_v1_text(br#"{"topic":"t","event":"e","payload":{},"ref":"3","join_ref":"2"}"#).unwrap();
    assert_eq!(f.join_ref.as_deref(), Some("2"));
    assert_eq!(f.ref_.as_deref(), Some("3"));
}

#[test]
fn v1_text_rejects_missing_keys_and_bad_json() {
    assert_eq!(decode_v1_text(br#"{"event":"e","payload":{}}"#), Err(FrameError::MissingKey("topic")));
    assert_eq!(decode_v1_text(br#"{"topic":"t","payload":{}}"#), Err(FrameError::MissingKey("event")));
    assert_eq!(decode_v1_text(br#"{"topic":"t","event":"e"}"#), Err(FrameError::MissingKey("payload")));
    assert_eq!(decode_v1_text(b"{}"), Err(FrameError::MissingKey("topic")));
    assert!(decode_v1_text(b"[]").is_err());
    assert!(decode_v1_text(br#"{"topic" "t"}"#).is_err());
    assert!(decode_v1_text(br#"{"topic":"t","#).is_err());
}

#[test]
fn v1_text_round_trips_through_the_encoder() {
    let mut out = Vec::new();
    encode_v1_text(&mut out, &header(Some("1"), Some("2"), "t", "e"), b"{}");
    assert_eq!(out, br#"{"topic":"t","event":"e","payload":{},"ref":"2","join_ref":"1"}"#);
    let f = decode_v1_text(&out).unwrap();
    assert_eq!((f.join_ref.as_deref(), f.ref_.as_deref()), (Some("1"), Some("2")));
    out.clear();
    encode_v1_text(&mut out, &header(None, None, "t", "e"), b"{}");
    assert_eq!(out, br#"{"topic":"t","event":"e","payload":{},"ref":null}"#);
}

// The byte layouts below are the test vectors of Phoenix's serializer tests.

#[test]
fn binary_push_encodes_the_reference_vectors() {
    let mut out = Vec::new();
    encode_binary_push(&mut out, &header(Some("0"), Some("1"), "t", "e"), &[1]).unwrap();
    assert_eq!(out, [0x00, 0x01, 0x01, 0x01, 0x01, 0x30, 0x31, 0x74, 0x65, 0x01]);
    out.clear();
    encode_binary_push(&mut out, &header(Some("10"), Some("1"), "top", "ev"), &[1]).unwrap();
    let mut expected = vec![0x00, 0x02, 0x01, 0x03, 0x02];
    expected.extend_from_slice(b"101topev");
    expected.push(0x01);
    assert_eq!(out, expected);
}

#[test]
fn binary_push_counts_utf8_bytes_and_limits_fields() {
    let mut out = Vec::new();
    encode_binary_push(&mut out, &header(Some("🚀"), Some("1"), "café", "e"), &[]).unwrap();
    assert_eq!(&out[..5], &[0, 4, 1, 5, 1]);
    let long = "x".repeat(256);
    for (field, h) in [
        ("join_ref", header(Some(&long), Some("1"), "t", "e")),
        ("ref", header(Some("1"), Some(&long), "t", "e")),
        ("topic", header(Some("1"), Some("1"), &long, "e")),
        ("event", header(Some("1"), Some("1"), "t", &long)),
    ] {
        let err = encode_binary_push(&mut Vec::new(), &h, &[]).unwrap_err();
        assert_eq!(err, FrameError::FieldTooLong { field, len: 256 });
        assert!(err.to_string().contains(field));
    }
    let edge = "y".repeat(255);
    assert!(encode_binary_push(&mut Vec::new(), &header(None, None, &edge, "e"), &[]).is_ok());
}

#[test]
fn binary_decodes_server_push_reply_and_broadcast() {
    let mut push = vec![0x00, 0x03, 0x03, 0x0a];
    push.extend_from_slice(b"123topsome-event");
    push.extend_from_slice(&[1, 1]);
    let f = decode_binary(&push).unwrap();
    assert_eq!(
        (f.join_ref.as_deref(), f.ref_.as_deref(), &*f.topic, &*f.event),
        (Some("123"), None, "top", "some-event")
    );
    assert_eq!(f.payload, Payload::Binary(&[1, 1]));

    let mut reply = vec![0x01, 0x03, 0x02, 0x03, 0x02];
    reply.extend_from_slice(b"10012topok");
    reply.extend_from_slice(&[1, 1]);
    let f = decode_binary(&reply).unwrap();
    assert_eq!(
        (f.join_ref.as_deref(), f.ref_.as_deref(), &*f.topic, &*f.event),
        (Some("100"), Some("12"), "top", "phx_reply")
    );
    assert_eq!(f.payload, Payload::BinaryReply { status: "ok".into(), response: &[1, 1] });

    let mut broadcast = vec![0x02, 0x03, 0x0a];
    broadcast.extend_from_slice(b"topsome-event");
    broadcast.extend_from_slice(&[1, 1]);
    let f = decode_binary(&broadcast).unwrap();
    assert_eq!((f.join_ref, f.ref_, &*f.topic, &*f.event), (None, None, "top", "some-event"));
    assert_eq!(f.payload, Payload::Binary(&[1, 1]));
}

#[test]
fn binary_decodes_utf8_fields_and_empty_refs() {
    let mut push = vec![0x00, 0x00, 10, 4];
    push.extend_from_slice("café:🚀".as_bytes()); // 5 + 1 + 4 = 10 bytes
    push.extend_from_slice("🚀".as_bytes());
    let f = decode_binary(&push).unwrap();
    assert_eq!((f.join_ref, &*f.topic, &*f.event), (None, "café:🚀", "🚀"));
    assert_eq!(f.payload, Payload::Binary(&[]));
}

#[test]
fn binary_rejects_truncated_unknown_and_invalid_frames() {
    assert_eq!(decode_binary(&[]), Err(FrameError::Empty));
    assert_eq!(decode_binary(&[7, 0, 0]), Err(FrameError::UnknownKind(7)));
    assert_eq!(decode_binary(&[0, 1]), Err(FrameError::Truncated { kind: 0, need: 4, have: 2 }));
    assert_eq!(
        decode_binary(&[1, 0, 0, 9, 0, b'a']),
        Err(FrameError::Truncated { kind: 1, need: 14, have: 6 })
    );
    assert_eq!(decode_binary(&[2, 1, 1, 0xff, b'e']), Err(FrameError::InvalidUtf8 { field: "topic" }));
}

fn opt_field() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(".{0,20}")
}

proptest! {
    #[test]
    fn v2_round_trips_any_fields(join_ref in opt_field(), ref_ in opt_field(), topic in ".{0,40}", event in ".{0,20}") {
        let mut out = Vec::new();
        let h = header(join_ref.as_deref(), ref_.as_deref(), &topic, &event);
        encode_v2_text(&mut out, &h, br#"{"k":"v"}"#);
        let f = decode_v2_text(&out).unwrap();
        prop_assert_eq!(f.join_ref.as_deref(), join_ref.as_deref());
        prop_assert_eq!(f.ref_.as_deref(), ref_.as_deref());
        prop_assert_eq!(&*f.topic, &topic);
        prop_assert_eq!(&*f.event, &event);
    }

    #[test]
    fn v1_round_trips_any_fields(join_ref in opt_field(), ref_ in opt_field(), topic in ".{0,40}", event in ".{0,20}") {
        let mut out = Vec::new();
        encode_v1_text(&mut out, &header(join_ref.as_deref(), ref_.as_deref(), &topic, &event), b"{}");
        let f = decode_v1_text(&out).unwrap();
        prop_assert_eq!(f.join_ref.as_deref(), join_ref.as_deref());
        prop_assert_eq!(f.ref_.as_deref(), ref_.as_deref());
        prop_assert_eq!(&*f.topic, &topic);
    }

    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = decode_v2_text(&bytes);
        let _ = decode_v1_text(&bytes);
        let _ = decode_binary(&bytes);
    }
}

#[test]
fn the_fast_head_takes_what_servers_send_and_leaves_the_rest() {
    let text = r#"["3",null,"room:lobby","new_msg",{"a":1}]"#;
    let head = fast_v2_head(text).expect("the common frame takes the fast path");
    assert_eq!(Ok(head.clone()), decode_v2_head(text));
    assert_eq!(&text[head.payload_start..], r#"{"a":1}]"#);
    for other in [
        r#" ["3",null,"t","e",{}]"#,
        r#"["3", null,"t","e",{}]"#,
        r#"["3",null,"t","e", {}]"#,
        r#"["3",null,"t\u00e9","e",{}]"#,
        r#"["3",null,"t","e"]"#,
        r#"[null,null,null,"e",{}]"#,
        "[\"3\",null,\"t\x01\",\"e\",{}]",
    ] {
        assert_eq!(fast_v2_head(other), None, "{other}");
    }
}

/// Frame-like text: the envelope's bytes, in any order, so both heads meet every case.
fn framish() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just("["),
        Just("null"),
        Just("nul"),
        Just(","),
        Just("\""),
        Just("\\"),
        Just("\\u00e9"),
        Just(" "),
        Just("topic:lobby"),
        Just("é"),
        Just("\u{1}"),
        Just("{}"),
        Just("]"),
    ];
    proptest::collection::vec(pieces, 0..16).prop_map(|p| p.concat())
}

proptest! {
    #[test]
    fn the_fast_head_agrees_with_the_general_one(text in framish()) {
        if let Some(head) = fast_v2_head(&text) {
            prop_assert_eq!(Ok(head), decode_v2_head(&text));
        }
    }

    #[test]
    fn the_fast_head_agrees_on_encoded_frames(join_ref in opt_field(), ref_ in opt_field(), topic in ".{0,40}", event in ".{0,20}") {
        let mut out = Vec::new();
        encode_v2_text(&mut out, &header(join_ref.as_deref(), ref_.as_deref(), &topic, &event), b"{}");
        let text = std::str::from_utf8(&out).unwrap();
        if let Some(head) = fast_v2_head(text) {
            prop_assert_eq!(Ok(head), decode_v2_head(text));
        } else {
            // only escapes (or control characters) send an encoded frame the long way
            prop_assert!(text.contains('\\'));
        }
    }
}

/// Payload-like text: JSON's punctuation, scalars and string pieces in any order, so that
/// payloads are well formed, cut short, or wrong at any place.
fn payloadish() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just("{"),
        Just("}"),
        Just("["),
        Just("]"),
        Just(","),
        Just(":"),
        Just("\"k\""),
        Just("\""),
        Just("\\\""),
        Just("\\"),
        Just("1"),
        Just(".5"),
        Just("true"),
        Just(" "),
        Just("é"),
    ];
    proptest::collection::vec(pieces, 0..24).prop_map(|p| p.concat())
}

/// Every place in the payload at `start` (an array or object) where a parser of it may have
/// stopped, with the brackets open there: outside its strings, inside its first bracket.
/// Byte by byte, as a test oracle apart from the skip it checks.
fn resume_points(buf: &[u8], start: usize) -> Vec<(usize, usize)> {
    let mut points = Vec::new();
    if !matches!(buf.get(start), Some(b'{' | b'[')) {
        return points;
    }
    let mut depth = 0usize;
    let mut i = start;
    while i < buf.len() {
        if depth > 0 {
            points.push((i, depth));
        }
        match buf[i] {
            b'"' => {
                i += 1;
                while i < buf.len() && buf[i] != b'"' {
                    i += if buf[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth == 1 => break,
            b'}' | b']' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    points
}

#[test]
fn the_rest_of_a_frame_goes_on_where_a_payload_parser_stopped() {
    let text = r#"["1",null,"t","e",{"a":[1.5,{"b":"]}\"x"}],"c":2}]"#;
    let head = decode_v2_head(text).unwrap();
    let stop = text.find(".5").unwrap(); // where the native payload decoder gives up
    let whole = decode_v2_str(text).unwrap();
    assert_eq!(decode_v2_rest(text, head.clone(), stop, 2), Ok(whole));
    let cut = &text[..text.len() - 3]; // `2}]` gone: the object is never closed
    assert_eq!(decode_v2_rest(cut, head, stop, 2), decode_v2_str(cut));
    assert!(decode_v2_str(cut).is_err());
}

proptest! {
    #[test]
    fn the_rest_of_a_frame_is_the_same_from_any_resume_point(payload in payloadish(), tail in prop_oneof![Just("]"), Just(""), Just("],1]"), Just("] x")]) {
        let text = format!(r#"["1",null,"t","e",{payload}{tail}"#);
        let Ok(head) = decode_v2_head(&text) else { return Ok(()) };
        let whole = decode_v2_str(&text);
        for (resume, open) in resume_points(text.as_bytes(), head.payload_start) {
            prop_assert_eq!(decode_v2_rest(&text, head.clone(), resume, open), whole.clone(), "from {}", resume);
        }
    }
}
