"""Packaging: the CLI's entry points, the extras, and what pyproject.toml declares."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import phoenix_fast
from phoenix_fast.cli import EXTRAS, main

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"phoenix-fast {phoenix_fast.__version__}\n"


def test_python_dash_m_is_the_same_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "phoenix_fast", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"phoenix-fast {phoenix_fast.__version__}"
    done = subprocess.run(
        [sys.executable, "-m", "phoenix_fast", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: phoenix-fast serve")


@pytest.mark.parametrize(
    ("argv", "module"),
    [
        (["load", "--duration", "1"], "rich"),
        (["load", "--duration", "1"], "hdrh"),
        (["report", "show", "missing.json"], "rich"),
        (["report", "merge", "a.json", "b.json"], "hdrh"),
    ],
)
def test_a_missing_extra_is_one_line_naming_it(argv: list[str], module: str) -> None:
    # The module is made unimportable in a fresh interpreter, as if the extra were absent;
    # the command must say so before it imports (or starts) anything of the load tool.
    code = (
        "import sys\n"
        f"sys.modules[{module!r}] = None\n"
        "from phoenix_fast.cli import main\n"
        f"status = main({argv!r})\n"
        "assert 'phoenix_fast.load.session' not in sys.modules\n"
        "assert 'phoenix_fast.load.report' not in sys.modules\n"
        "sys.exit(status)\n"
    )
    done = run_python(code)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert f"no module {module!r}" in lines[0]
    assert "pip install 'phoenix_fast[load]'" in lines[0]


def test_serve_needs_no_extra() -> None:
    code = (
        "import sys\n"
        "for name in ('rich', 'hdrh', 'locust'):\n"
        "    sys.modules[name] = None\n"
        "from phoenix_fast.cli import main\n"
        "sys.exit(main(['serve', '--help']))\n"
    )
    done = run_python(code)
    assert done.returncode == 0, done.stderr
    assert "usage: phoenix-fast serve" in done.stdout


def test_the_client_imports_without_any_extra() -> None:
    code = (
        "import sys\n"
        "for name in ('rich', 'hdrh', 'locust', 'uvloop'):\n"
        "    sys.modules[name] = None\n"
        "import phoenix_fast, phoenix_fast.testing, phoenix_fast.testing.pytest_plugin\n"
        "from phoenix_fast import LongPoll, Presence, Socket\n"
        "from phoenix_fast.testing import ReferenceServer, ServerThread\n"
    )
    done = run_python(code)
    assert done.returncode == 0, done.stderr


def requirement_names(requirements: list[str]) -> set[str]:
    names = set()
    for requirement in requirements:
        name = requirement.split(";")[0]
        for mark in "<>=![ ":
            name = name.split(mark)[0]
        names.add(name.strip().lower().replace("_", "-"))
    return names


def test_the_install_brings_only_the_clients_needs() -> None:
    project = PYPROJECT["project"]
    assert requirement_names(project["dependencies"]) == {"orjson", "aiohttp"}
    extras = project["optional-dependencies"]
    assert {"hdrhistogram", "rich", "tomli"} <= requirement_names(extras["load"])
    assert {"locust", "phoenix-fast"} <= requirement_names(extras["locust"])
    assert "uvloop" in requirement_names(extras["uvloop"])
    # the extra the CLI names must exist
    assert {extra for extra, _ in EXTRAS.values()} <= set(extras)


def test_metadata_says_what_is_tested() -> None:
    project = PYPROJECT["project"]
    assert project["requires-python"] == ">=3.10"
    tested = {
        c.rsplit(" :: ", 1)[1]
        for c in project["classifiers"]
        if c.startswith("Programming Language :: Python :: 3.")
    }
    assert tested == {"3.10", "3.11", "3.12", "3.13"}
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for version in tested - {"3.11"}:  # 3.11 is the default .venv, the full suite
        assert version in makefile.split("OTHER_PYTHONS :=")[1].splitlines()[0]
    assert {"Homepage", "Documentation", "Source", "Changelog"} <= set(project["urls"])
    assert project["description"]


def test_the_pytest_plugin_imports_nothing_heavy() -> None:
    # pytest loads the plugin in every session of a project that installs phoenix_fast: what
    # it needs (servers, aiohttp, the sync client, event-loop plugins) waits for a fixture
    code = (
        "import sys\n"
        "import phoenix_fast.testing.pytest_plugin\n"
        "heavy = ('aiohttp', 'uvloop', 'rich', 'hdrh', 'locust', 'gevent', 'anyio',\n"
        "         'pytest_asyncio', 'pytest_benchmark', 'phoenix_fast.sync',\n"
        "         'phoenix_fast.load', 'phoenix_fast.testing.server',\n"
        "         'phoenix_fast.testing._thread', 'phoenix_fast.testing.faultproxy')\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(heavy))\n"
        "assert not loaded, loaded\n"
    )
    done = run_python(code)
    assert done.returncode == 0, done.stderr
