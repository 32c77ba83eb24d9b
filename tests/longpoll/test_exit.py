"""A LongPoll socket left connected when ``asyncio.run`` ends closes its HTTP session: no
"Unclosed connector" warning at interpreter exit."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import asyncio, gc, sys
    from phoenix_fast.socket import Socket
    from phoenix_fast.testing import ServerThread
    from phoenix_fast.transports.longpoll import LongPoll

    async def main(url):
        socket = Socket(url, transport=LongPoll)
        await socket.connect()
        await socket.channel("echo:exit").join()

    with ServerThread() as server:
        asyncio.run(main(server.url))
        gc.collect()
    print("done")
    """
)


def test_no_unclosed_connector_when_the_socket_was_never_disconnected() -> None:
    result = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "default", "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "done"
    assert "Unclosed" not in result.stderr and "unclosed" not in result.stderr, result.stderr
