//! The WebSocket frame parser fed arbitrary bytes in arbitrary pieces: never panics, and the
//! events do not depend on how the stream was split.
#![no_main]

use _native::ws::{FeedError, FrameParser, WsEvent};
use libfuzzer_sys::fuzz_target;

fn events(chunks: &[&[u8]]) -> (Vec<String>, Option<String>) {
    let mut parser = FrameParser::new(1 << 16);
    let mut seen = Vec::new();
    for chunk in chunks {
        let result = parser.feed(chunk, |e: WsEvent<'_>| -> Result<(), ()> {
            seen.push(format!("{e:?}"));
            Ok(())
        });
        if let Err(FeedError::Ws(err)) = result {
            return (seen, Some(err.to_string()));
        }
    }
    (seen, None)
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else { return };
    let at = usize::from(split) % (rest.len() + 1);
    let whole = events(&[rest]);
    let pieces = events(&[&rest[..at], &rest[at..]]);
    assert_eq!(whole, pieces);
});
