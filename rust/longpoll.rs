//! The body of a LongPoll poll answer: `{"status": N, "token": T?, "messages": [frame, ...]}`.
//!
//! Each message is a whole text frame carried as a JSON string. Parsing the body here, rather
//! than with a JSON library, hands every frame straight to the frame decoder, with no Python
//! string made for a frame that is about to be parsed again.

use std::borrow::Cow;

use crate::error::FrameError;
use crate::json::{malformed, parse_string, skip_value, skip_ws};

/// A parsed poll answer; `messages` are the frames, unescaped.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PollBody<'a> {
    pub status: Option<i64>,
    pub token: Option<Cow<'a, str>>,
    pub messages: Vec<Cow<'a, str>>,
}

/// Parses a poll answer. Keys other than `status`, `token` and `messages` are skipped.
pub fn parse_poll_body(text: &str) -> Result<PollBody<'_>, FrameError> {
    let buf = text.as_bytes();
    let mut pos = skip_ws(buf, 0);
    if buf.get(pos) != Some(&b'{') {
        return Err(malformed("expected '{'", pos));
    }
    pos = skip_ws(buf, pos + 1);
    let mut body = PollBody::default();
    if buf.get(pos) == Some(&b'}') {
        return finish(buf, pos + 1, body);
    }
    loop {
        if buf.get(pos) != Some(&b'"') {
            return Err(malformed("expected a key", pos));
        }
        let (key, after) = parse_string(text, pos, "key")?;
        pos = skip_ws(buf, after);
        if buf.get(pos) != Some(&b':') {
            return Err(malformed("expected ':'", pos));
        }
        pos = skip_ws(buf, pos + 1);
        pos = match key.as_ref() {
            "status" => parse_status(buf, pos, &mut body.status)?,
            "token" => parse_token(text, pos, &mut body.token)?,
            "messages" => parse_messages(text, pos, &mut body.messages)?,
            _ => skip_value(buf, pos)?,
        };
        pos = skip_ws(buf, pos);
        match buf.get(pos) {
            Some(b',') => pos = skip_ws(buf, pos + 1),
            Some(b'}') => return finish(buf, pos + 1, body),
            _ => return Err(malformed("expected ',' or '}'", pos)),
        }
    }
}

fn finish<'a>(buf: &[u8], pos: usize, body: PollBody<'a>) -> Result<PollBody<'a>, FrameError> {
    if skip_ws(buf, pos) == buf.len() {
        Ok(body)
    } else {
        Err(malformed("trailing data after the body", pos))
    }
}

fn parse_status(buf: &[u8], pos: usize, out: &mut Option<i64>) -> Result<usize, FrameError> {
    let end = skip_value(buf, pos)?;
    let digits = std::str::from_utf8(&buf[pos..end]).unwrap_or("");
    *out =
        Some(digits.parse().map_err(|_| FrameError::FieldType { field: "status", expected: "an integer" })?);
    Ok(end)
}

fn parse_token<'a>(text: &'a str, pos: usize, out: &mut Option<Cow<'a, str>>) -> Result<usize, FrameError> {
    match text.as_bytes().get(pos) {
        Some(b'"') => {
            let (token, end) = parse_string(text, pos, "token")?;
            *out = Some(token);
            Ok(end)
        }
        _ => skip_value(text.as_bytes(), pos),
    }
}

fn parse_messages<'a>(text: &'a str, pos: usize, out: &mut Vec<Cow<'a, str>>) -> Result<usize, FrameError> {
    let buf = text.as_bytes();
    if buf.get(pos) != Some(&b'[') {
        return Err(FrameError::FieldType { field: "messages", expected: "an array" });
    }
    let mut pos = skip_ws(buf, pos + 1);
    if buf.get(pos) == Some(&b']') {
        return Ok(pos + 1);
    }
    loop {
        if buf.get(pos) != Some(&b'"') {
            return Err(FrameError::FieldType { field: "messages", expected: "an array of strings" });
        }
        let (message, end) = parse_string(text, pos, "message")?;
        out.push(message);
        pos = skip_ws(buf, end);
        match buf.get(pos) {
            Some(b',') => pos = skip_ws(buf, pos + 1),
            Some(b']') => return Ok(pos + 1),
            _ => return Err(malformed("expected ',' or ']'", pos)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_token_and_messages() {
        let body = parse_poll_body(
            r#"{"status":200,"token":"t0k\u00e9n","messages":["[\"1\",null,\"a\",\"e\",{}]","AAEC"],"x":[1]}"#,
        )
        .unwrap();
        assert_eq!(body.status, Some(200));
        assert_eq!(body.token.as_deref(), Some("t0kén"));
        assert_eq!(body.messages, vec![Cow::Borrowed(r#"["1",null,"a","e",{}]"#), Cow::Borrowed("AAEC")]);
    }

    #[test]
    fn accepts_empty_and_missing_parts() {
        assert_eq!(parse_poll_body("{}").unwrap(), PollBody::default());
        let body = parse_poll_body(r#" { "status" : 204 , "messages" : [ ] } "#).unwrap();
        assert_eq!((body.status, body.messages.len()), (Some(204), 0));
        assert_eq!(parse_poll_body(r#"{"status":410,"token":null}"#).unwrap().token, None);
    }

    #[test]
    fn rejects_malformed_bodies() {
        for bad in [
            "",
            "[]",
            r#"{"status":"200"}"#,
            r#"{"status":2.5}"#,
            r#"{"messages":{}}"#,
            r#"{"messages":[1]}"#,
            r#"{"messages":["a" "b"]}"#,
            r#"{"status":200,}"#,
            r#"{"status":200} x"#,
            r#"{"status":200"#,
        ] {
            assert!(parse_poll_body(bad).is_err(), "{bad}");
        }
    }
}
