"""wss connects (with a join) per second: one default TLS context per process, as the client
does, against one per connection, as it did (``ssl.create_default_context()`` loads the
system's CA store each time: 26-28 ms here).

A self-signed certificate for 127.0.0.1 is made with the ``openssl`` command and trusted
next to the system's CAs (``SSL_CERT_FILE``), so each context really loads the whole store;
a TLS front in this process forwards to the reference server.
``python benches/wss_connect.py [N]``.
"""

import asyncio
import os
import ssl
import sys
import tempfile
import time
from pathlib import Path

import phoenix_fast
from phoenix_fast import Socket
from phoenix_fast.testing import ServerThread
from phoenix_fast.testing.tls import self_signed_certificate
from phoenix_fast.transports import base

N = int(sys.argv[1]) if len(sys.argv) > 1 else 300


async def pipe(r, w):
    try:
        while data := await r.read(65536):
            w.write(data)
            await w.drain()
    except Exception:
        pass
    finally:
        w.close()


async def tls_front(port):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(CERT, KEY)

    async def serve(r, w):
        ur, uw = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.gather(pipe(r, uw), pipe(ur, w))

    return await asyncio.start_server(serve, "127.0.0.1", 0, ssl=ctx)


async def run(port, per_connection):
    cached = base.default_ssl_context
    if per_connection:
        base.default_ssl_context = lambda: ssl.create_default_context()  # the old behaviour
    try:
        front = await tls_front(port)
        url = f"wss://127.0.0.1:{front.sockets[0].getsockname()[1]}/socket"
        sem = asyncio.Semaphore(100)

        async def one(i):
            async with sem:
                s = Socket(url, heartbeat_interval=None)
                await s.connect()
                await s.channel(f"echo:{i}").join()
                return s

        start = time.perf_counter()
        sockets = await asyncio.gather(*(one(i) for i in range(N)))
        took = time.perf_counter() - start
        await asyncio.gather(*(s.disconnect() for s in sockets))
        front.close()
        return took
    finally:
        base.default_ssl_context = cached


def trust_a_local_certificate(folder: str) -> None:
    cert_path, key_path = self_signed_certificate(Path(folder))
    cert, key = str(cert_path), str(key_path)
    system = ssl.get_default_verify_paths().openssl_cafile
    bundle = os.path.join(folder, "bundle.pem")
    with open(bundle, "wb") as out:
        for path in (system, cert):
            if path and os.path.exists(path):
                with open(path, "rb") as part:
                    out.write(part.read())
    os.environ["SSL_CERT_FILE"] = bundle
    global CERT, KEY
    CERT, KEY = cert, key


CERT = KEY = ""
folder = tempfile.mkdtemp()
trust_a_local_certificate(folder)
with ServerThread(max_channels=100_000) as server:
    port = int(server.url.split(":")[2].split("/")[0])
    for _round in range(2):
        for per in (True, False):
            took = phoenix_fast.run(run(port, per))
            way = "per connection" if per else "one per process"
            print(f"{way}: {N} wss connects+joins in {took:.2f} s = {N / took:.0f}/s", flush=True)
