//! One client connection: the TLS handshake when `--tls` is on, the WebSocket upgrade (any
//! path, e.g. `/socket/websocket?vsn=2.0.0`), then a reply to each text frame.

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;

use crate::{phoenix, stats};

/// Bytes read from the socket at a time. tungstenite allocates this buffer up front for every
/// connection (128 KiB by default: 6 GiB for 50,000 sockets); joins and replies are ~100 bytes.
const READ_BUFFER: usize = 4096;

pub async fn serve(stream: TcpStream, tls: Option<Arc<TlsAcceptor>>) {
    let _open = stats::Open::new();
    match tls {
        Some(tls) => match tls.accept(stream).await {
            Ok(stream) => websocket(stream).await,
            Err(_) => stats::note_handshake_error(),
        },
        None => websocket(stream).await,
    }
}

async fn websocket<S: AsyncRead + AsyncWrite + Unpin>(stream: S) {
    let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER);
    let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await else {
        stats::note_handshake_error();
        return;
    };
    // Ends when the client closes or the connection fails: nothing is left to clean up.
    while let Some(Ok(message)) = ws.next().await {
        let refusal = match message {
            Message::Text(text) => match phoenix::answer(text.as_str()) {
                Ok((kind, reply)) => {
                    stats::note(kind);
                    if ws.send(Message::text(reply)).await.is_err() {
                        return;
                    }
                    continue;
                }
                Err(why) => why,
            },
            Message::Binary(_) => "binary frames are not supported: use the JSON serializer".into(),
            // Pings are answered by tungstenite, closes end the stream.
            _ => continue,
        };
        stats::note_bad_frame();
        let reason = format!("the acceptor speaks Phoenix V2 JSON only (vsn=2.0.0): {refusal}");
        let frame = CloseFrame { code: CloseCode::Unsupported, reason: truncate(reason).into() };
        let _ = ws.close(Some(frame)).await;
        return;
    }
}

/// A close frame's reason may hold at most 123 bytes.
fn truncate(mut reason: String) -> String {
    if reason.len() > 123 {
        let mut end = 123;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
    }
    reason
}
