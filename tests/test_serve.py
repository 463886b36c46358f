"""`heatdesk serve` (tui/serve.py): the loopback rule, the command it runs, and a real start."""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import ClassVar

import aiohttp
import pytest

from tui import serve
from tui.cli import build_parser, main

ROOT = Path(__file__).resolve().parent.parent


def parse(*argv: str):
    return build_parser().parse_args(["serve", *argv])


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "localhost", "::1", "[::1]"])
def test_loopback_addresses(host):
    assert serve.is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.7", "10.1.2.3", "2001:db8::1", ""])
def test_other_addresses_are_not_loopback(host):
    assert not serve.is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.7", "::"])
def test_a_public_host_needs_public(host, capsys, monkeypatch):
    started = []
    monkeypatch.setattr(serve, "make_server", lambda *a, **k: started.append(a))
    assert main(["serve", "--host", host]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"heatdesk: refusing to serve on {host}") and "--public" in err[0]
    assert started == []


class FakeServer:
    made: ClassVar[list[dict]] = []

    def __init__(self, command, host, port, *, title, public_url=None):
        FakeServer.made.append({"command": command, "host": host, "port": port, "title": title,
                                "public_url": public_url})

    def serve(self):
        pass


def test_public_warns_that_there_is_no_authentication(capsys, monkeypatch):
    FakeServer.made = []
    monkeypatch.setattr(serve, "make_server", FakeServer)
    monkeypatch.delenv(serve.PUBLIC_URL_ENV, raising=False)
    assert main(["serve", "--host", "0.0.0.0", "--port", "8181", "--public", "--agent", "ana"]) == 0
    err = capsys.readouterr().err
    assert "warning" in err and "no authentication" in err and "reverse proxy" in err
    assert "agent 'ana'" in err
    [made] = FakeServer.made
    assert (made["host"], made["port"], made["title"]) == ("0.0.0.0", 8181, "heatdesk desk")


def test_loopback_serves_without_a_warning(capsys, monkeypatch):
    FakeServer.made = []
    monkeypatch.setattr(serve, "make_server", FakeServer)
    monkeypatch.setenv(serve.PUBLIC_URL_ENV, "https://desk.example.com")
    assert main(["serve", "--wallboard"]) == 0
    assert capsys.readouterr().err == ""
    [made] = FakeServer.made
    assert (made["host"], made["port"]) == ("127.0.0.1", 8000)
    assert made["public_url"] == "https://desk.example.com"
    assert made["title"] == "heatdesk wallboard"


def test_bad_port_is_one_line(capsys):
    assert main(["serve", "--port", "70000"]) == 1
    assert capsys.readouterr().err.count("\n") == 1


def test_the_command_passes_options_through_quoted(tmp_path):
    db = tmp_path / "my desk's store.db"
    args = parse("--db", str(db), "--config", str(tmp_path / "c.toml"), "--theme", "ansi-dark",
                 "--agent", "ana; rm -rf /")
    argv = shlex.split(serve.serve_command(args))
    assert argv[:4] == [sys.executable, "-m", "tui.cli", "desk"]
    assert argv[4:] == ["--db", str(db), "--config", str(tmp_path / "c.toml"),
                        "--theme", "ansi-dark", "--agent", "ana; rm -rf /"]
    argv = shlex.split(serve.serve_command(parse("--wallboard", "--db", "rel.db", "--agent", "x")))
    assert argv[3] == "wallboard" and "--agent" not in argv  # the board takes no agent
    assert argv[argv.index("--db") + 1] == str(Path("rel.db").resolve())
    url = "postgresql://desk@db.example/heatdesk"
    assert shlex.split(serve.serve_command(parse("--db", url)))[-1] == url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(tmp_path):
    """A real `heatdesk serve --wallboard` on a free port, stopped afterwards."""
    port = free_port()
    env = {**os.environ, "HEATDESK_CONFIG": str(tmp_path / "none.toml")}
    (tmp_path / "none.toml").write_text("")
    env.pop(serve.PUBLIC_URL_ENV, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "serve", "--wallboard", "--port", str(port),
         "--db", str(tmp_path / "desk.db")],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True)
    try:
        yield port, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        if proc.stdout:
            proc.stdout.close()


async def get_index(port: int, timeout: float = 20.0) -> tuple[int, str]:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(f"http://127.0.0.1:{port}/") as response:
                    return response.status, await response.text()
            except aiohttp.ClientConnectionError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)


async def test_serve_wallboard_answers_with_the_textual_serve_page(served):
    port, proc = served
    status, body = await get_index(port)
    assert status == 200
    assert "textual.js" in body and "textual-terminal" in body
    assert f"ws://127.0.0.1:{port}/ws" in body
    assert "heatdesk wallboard" in body  # the page title, not the raw command line
    async with aiohttp.ClientSession() as session:
        # DNS rebinding: a foreign name for this address is refused.
        async with session.get(f"http://127.0.0.1:{port}/",
                               headers={"Host": f"evil.example:{port}"}) as response:
            assert response.status == 403
        # Cross-site websocket hijacking: another site's page may not open the desk.
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(f"http://127.0.0.1:{port}/ws",
                                     origin="http://evil.example")
        assert refused.value.status == 403
        # The page's own origin may.
        async with session.ws_connect(f"http://127.0.0.1:{port}/ws?width=80&height=24",
                                      origin=f"http://localhost:{port}") as ws:
            await ws.send_json(["ping", "hello"])
            reply = await ws.receive_json(timeout=10)
            assert reply == ["pong", "hello"]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0


def test_a_busy_port_is_one_line(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "tui.cli", "serve", "--port", str(port),
             "--db", str(tmp_path / "desk.db")],
            cwd=ROOT, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 1
    assert f"heatdesk: cannot serve on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
