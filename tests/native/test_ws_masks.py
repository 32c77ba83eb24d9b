"""Masking keys and handshake nonces of the native WebSocket client (RFC 6455 4.1, 10.3).

The keys come from ChaCha20 keyed from the OS (rust/ws/mask.rs; its Rust tests check the
generator against the RFC 8439 test vector). Here: what a server or a proxy on the wire sees.
"""

from __future__ import annotations

import base64
import re

from phoenix_fast import _native


def masks(ws: _native.WsClient, n: int) -> list[bytes]:
    return [bytes(ws.frame_binary(b"")[2:6]) for _ in range(n)]


def test_every_frame_gets_a_fresh_key() -> None:
    keys = masks(_native.WsClient(None), 2000)
    # 2,000 random 32-bit keys repeat one with a probability under 1 in 2,000.
    assert len(set(keys)) >= 1998
    # Every bit of the key varies (a stuck bit would shrink the space a proxy must guess).
    words = [int.from_bytes(k, "little") for k in keys]
    assert all(0 < sum((w >> bit) & 1 for w in words) < len(words) for bit in range(32))


def test_two_connections_draw_different_keys() -> None:
    first, second = _native.WsClient(None), _native.WsClient(None)
    assert masks(first, 8) != masks(second, 8)


def handshake_key(ws: _native.WsClient) -> bytes:
    request = bytes(ws.handshake_request("127.0.0.1", "/socket/websocket", [], []))
    found = re.search(rb"Sec-WebSocket-Key: ([A-Za-z0-9+/=]+)\r\n", request)
    assert found is not None, request
    return base64.b64decode(found.group(1))


def test_handshake_nonces_are_16_random_bytes_per_connection() -> None:
    nonces = {handshake_key(_native.WsClient(None)) for _ in range(50)}
    assert len(nonces) == 50
    assert all(len(n) == 16 for n in nonces)
