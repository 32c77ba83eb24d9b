"""Every connection option of ``phoenix-fast load`` against the reference server: transport,
LongPoll fallback, auth token, headers, serializer version, compression, TLS (``--cacert``,
``--insecure``); bad options are refused before anything connects; secrets never show."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cli_support
import pytest
from cli_support import one_line_error
from front import Front, make_certificate

from phoenix_fast.load.runner import LoadError, Runner, RunResult
from phoenix_fast.load.scenario import PushSpec, ScenarioError, build_scenario, load_toml
from phoenix_fast.testing import ServerThread

Factory = Callable[..., ServerThread]
TOKEN = "tok-3f9a1c77e2"
HEADER_VALUE = "hdr-b81d44a0c6"
PING = (PushSpec("ping", 50.0, {"seq": "{seq}"}),)


async def run(url: str, **options: Any) -> RunResult:
    scenario = build_scenario(
        {"url": url, "sockets": 2, "channels": 4, "topic": "echo:c{n}", "pushes": PING,
         "duration": 1.0, "heartbeat": 0, **options}
    )  # fmt: skip
    return await Runner(scenario).run()


def assert_answered(result: RunResult) -> None:
    c = result.stats.counters
    assert c["joins_ok"] == 4 and c["socket_opens"] == 2, (c, result.stats.errors)
    assert c["replies_ok"] == c["pushes_sent"] > 0
    assert result.stats.errors == {}


@pytest.mark.parametrize("transport", ["websocket", "longpoll"])
async def test_token_headers_and_vsn_reach_the_server(
    phoenix_server_factory: Factory, transport: str
) -> None:
    server = phoenix_server_factory()
    async with Front(server.port) as front:
        result = await run(
            front.url(),
            transport=transport,
            auth_token=TOKEN,
            headers=(("X-Load-Test", HEADER_VALUE),),
            vsn="1.0.0",
        )
    assert_answered(result)
    log = server.connect_log
    assert len(log) == 2
    for entry in log:
        assert entry.transport == transport and entry.accepted
        assert entry.vsn == "1.0.0" and entry.auth_token == TOKEN
    # every handshake (every request, over LongPoll) carried the header
    requests = front.sent.count(b"HTTP/1.1\r\n")
    assert requests >= 2
    assert front.sent.lower().count(f"x-load-test: {HEADER_VALUE}".encode()) == requests


async def test_long_poll_fallback_when_websocket_fails(phoenix_server_factory: Factory) -> None:
    server = phoenix_server_factory()
    async with Front(server.port, refuse_websocket=True) as front:
        result = await run(front.url(), long_poll_fallback=0.5)
    assert front.refused >= 1
    c = result.stats.counters
    assert c["joins_ok"] == 4 and c["replies_ok"] == c["pushes_sent"] > 0
    assert {entry.transport for entry in server.connect_log} == {"longpoll"}


async def test_compress_negotiates_deflate(phoenix_server_factory: Factory) -> None:
    server = phoenix_server_factory()
    async with Front(server.port) as front:
        result = await run(front.url("/socket_compress"), compress=True)
    assert_answered(result)
    assert {entry.path for entry in server.connect_log} == {"/socket_compress/websocket"}
    assert b"permessage-deflate" in front.sent
    assert b"permessage-deflate" in front.answered  # the server accepted it


@pytest.mark.parametrize("transport", ["websocket", "longpoll"])
async def test_cacert_trusts_a_private_certificate(
    phoenix_server_factory: Factory, tmp_path: Path, transport: str
) -> None:
    server = phoenix_server_factory()
    cert, key = make_certificate(tmp_path)
    async with Front(server.port, tls=(cert, key)) as front:
        result = await run(front.url(), cacert=str(cert), transport=transport)
        assert_answered(result)
        # without the CA, the certificate is refused at the first connection, in one line
        with pytest.raises(
            LoadError, match=r"certificate verify failed|CERTIFICATE_VERIFY"
        ) as info:
            await run(front.url(), transport=transport)
        assert "--cacert FILE" in str(info.value) and "\n" not in str(info.value)
    assert {entry.transport for entry in server.connect_log} == {transport}


@pytest.mark.parametrize("transport", ["websocket", "longpoll"])
async def test_insecure_skips_verification(
    phoenix_server_factory: Factory, tmp_path: Path, transport: str
) -> None:
    server = phoenix_server_factory()
    async with Front(server.port, tls=make_certificate(tmp_path)) as front:
        assert_answered(await run(front.url(), insecure=True, transport=transport))
    assert {entry.transport for entry in server.connect_log} == {transport}


def test_connection_options_from_a_scenario_file(tmp_path: Path) -> None:
    cert, _ = make_certificate(tmp_path)
    path = tmp_path / "s.toml"
    path.write_text(
        'url = "wss://127.0.0.1:4443/socket"\n'
        'transport = "longpoll"\n'
        f'auth_token = "{TOKEN}"\n'
        f'headers = {{ X-Api-Key = "{HEADER_VALUE}", Origin = "https://example.test" }}\n'
        'vsn = "1.0.0"\n'
        f'cacert = "{cert}"\n'
    )
    sc = build_scenario({}, load_toml(path))
    assert sc.transport == "longpoll" and sc.vsn == "1.0.0" and sc.cacert == str(cert)
    assert sc.headers == (("X-Api-Key", HEADER_VALUE), ("Origin", "https://example.test"))
    path.write_text('url = "ws://h/socket"\ncompress = true\nheaders = ["X-A: 1", "X-B:2"]\n')
    sc = build_scenario({}, load_toml(path))
    assert sc.compress and sc.headers == (("X-A", "1"), ("X-B", "2"))
    path.write_text('url = "ws://h/socket"\nlong_poll_fallback = 2.5\n')
    assert build_scenario({}, load_toml(path)).long_poll_fallback == 2.5
    path.write_text('url = "ws://h/socket"\nheaders = ["no colon"]\n')
    with pytest.raises(ScenarioError, match="expected 'Name: value'"):
        build_scenario({}, load_toml(path))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"transport": "sse"}, "give websocket (the default) or longpoll"),
        ({"vsn": "3.0.0"}, "give 2.0.0"),
        ({"headers": ("X-Api-Key abc",)}, "expected 'Name: value'"),
        ({"headers": ("Bad Name: x",)}, "not an HTTP token"),
        ({"headers": (("X-A", "one\r\nX-B: two"),)}, "no line breaks"),
        ({"long_poll_fallback": 0}, "> 0"),
        ({"long_poll_fallback": 2, "transport": "longpoll"}, "drop it with --transport longpoll"),
        ({"cacert": "ca.pem"}, "drop --cacert or give a wss:// URL"),
        ({"compress": True, "transport": "longpoll"}, "drop it with --transport longpoll"),
        ({"insecure": True, "url": None}, "the embedded server speaks plain ws://"),
        ({"url": "wss://h/s", "insecure": True, "cacert": "x"}, "give one"),
        ({"url": "wss://h/s", "cacert": "/no/such/ca.pem"}, "cannot load the certificate"),
    ],
)
def test_bad_connection_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_scenario({"url": "ws://127.0.0.1:9/socket", **options})


def phoenix_fast(*argv: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return cli_support.phoenix_fast(*argv, timeout=timeout)


def test_cli_refuses_bad_connection_options_before_connecting(tmp_path: Path) -> None:
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("this is no certificate\n")
    url = "wss://127.0.0.1:9/socket"  # nothing listens: a connection would fail otherwise
    cases = [
        (["--cacert", str(not_pem)], "cannot load the certificate"),
        (["--header", "X-Api-Key"], "expected 'Name: value'"),
        (["--vsn", "9"], "give 2.0.0"),
        (["--transport", "grpc"], "or longpoll"),
    ]
    for extra, message in cases:
        line = one_line_error(phoenix_fast("load", url, "--quiet", *extra))
        assert message in line and "cannot connect" not in line


def test_insecure_warns_on_stderr() -> None:
    done = phoenix_fast("load", "wss://127.0.0.1:9/socket", "--insecure", "--quiet")
    line = one_line_error(done)
    assert "cannot connect" in line
    assert "warning: --insecure: server certificates are not verified" in done.stderr


def test_secrets_never_show(phoenix_url: str, tmp_path: Path) -> None:
    """A token, a header value, connect and join params, a URL query and a refusal reason
    that carries a secret: none of them in the summary, logs, JSON, CSV or HTML report."""
    secret = "s3cr3t-7c1e9b2d"
    report, csv, html = tmp_path / "r.json", tmp_path / "r.csv", tmp_path / "r.html"
    done = phoenix_fast(
        "load", f"{phoenix_url}?key={secret}", "--sockets", "2", "--channels", "4",
        "--topic", "echo:{n}", "--duration", "1", "--auth-token", secret,
        "--header", f"X-Api-Key: {secret}", "--socket-params", json.dumps({"token": secret}),
        "--join-params", json.dumps({"fail": f"denied {secret}-{{n}}"}),
        "--report", str(report), "--csv", str(csv), "--html", str(html),
    )  # fmt: skip
    assert done.returncode == 1, done.stderr  # every join refused: a failed run
    data = json.loads(report.read_text())
    assert data["counts"]["joins_refused"] == 4
    assert all(reason.startswith("join refused: ***") for reason in data["errors"])
    assert data["scenario"]["auth_token"] == "***"
    assert data["scenario"]["headers"] == [["X-Api-Key", "***"]]
    for text in (done.stdout, done.stderr, report.read_text(), csv.read_text(), html.read_text()):
        assert secret not in text
