"""`heatdesk serve`: the desk, or with ``--wallboard`` the wallboard, in a browser.

textual-serve answers ``/`` with a page that runs xterm.js and, for each browser tab,
starts one process of the command behind a websocket (``/ws``). The command is this
Python running ``tui.cli desk`` (or ``wallboard``) with ``--db``, ``--config``, ``--theme``
and, for the desk, ``--agent``/``--demo``/``--no-ingest`` passed through, each shell-quoted
(textual-serve runs it through a shell).

textual-serve has no authentication of its own: whoever reaches the port drives the desk
as ``--agent``. So:

- It binds to 127.0.0.1 by default. Any other address (a LAN address, ``0.0.0.0``, a name
  that does not resolve to loopback only) needs ``--public``, and then a warning says to
  put it behind an authenticating reverse proxy.
- Requests are checked before textual-serve sees them: on a loopback bind the ``Host``
  header must name this server (DNS rebinding), and a websocket's ``Origin``, when sent,
  must be this server's (any web page could otherwise open ``ws://127.0.0.1:8000/ws``
  and type into the desk: cross-site WebSocket hijacking).
- The page's links and websocket URL follow ``HEATDESK_PUBLIC_URL`` (or a
  ``public_url`` argument) when set, e.g. the proxy's ``https://desk.example.com``; a
  wildcard bind without one uses the address the browser asked for.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import shlex
import socket
import sys
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})
PUBLIC_URL_ENV = "HEATDESK_PUBLIC_URL"
_HOST_HEADER = re.compile(r"^[A-Za-z0-9.\-]+(:\d+)?$|^\[[0-9A-Fa-f:.]+\](:\d+)?$")

WARNING = (
    "heatdesk: warning: serving on {host}:{port}, reachable from other machines. "
    "textual-serve has no authentication of its own: anyone who can reach this port "
    "drives the {what}{agent}. Put it behind a reverse proxy that authenticates "
    "(and terminates TLS), and bind to 127.0.0.1 when the proxy runs on this machine."
)


def is_loopback(host: str) -> bool:
    """True when ``host`` only ever means this machine (127.0.0.0/8, ::1, localhost)."""
    name = host.strip().strip("[]")
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name.split("%")[0]).is_loopback
    except ValueError:
        pass
    if not name:
        return False
    try:
        infos = socket.getaddrinfo(name, None)
    except (socket.gaierror, UnicodeError, OSError):
        return False
    addresses = {info[4][0].split("%")[0] for info in infos}
    return bool(addresses) and all(ipaddress.ip_address(a).is_loopback for a in addresses)


def url_host(host: str) -> str:
    """``host`` as it goes in a URL (IPv6 in brackets)."""
    name = host.strip("[]")
    return f"[{name}]" if ":" in name else name


def _path_arg(value: str) -> str:
    # The app process starts in this directory too, but an absolute path survives a
    # proxy or service manager that changes it.
    if "://" in value:
        return value
    return str(Path(value).expanduser().resolve())


def serve_command(args: argparse.Namespace) -> str:
    """The shell command textual-serve starts for each browser tab."""
    wallboard = bool(getattr(args, "wallboard", False))
    argv = [sys.executable, "-m", "tui.cli", "wallboard" if wallboard else "desk"]
    if getattr(args, "db", None):
        argv += ["--db", _path_arg(args.db)]
    if getattr(args, "config", None):
        argv += ["--config", _path_arg(args.config)]
    if getattr(args, "theme", None):
        argv += ["--theme", args.theme]
    if not wallboard:
        if getattr(args, "agent", None):
            argv += ["--agent", args.agent]
        if getattr(args, "demo", False):
            argv.append("--demo")
        if getattr(args, "no_ingest", False):
            argv.append("--no-ingest")
    return shlex.join(argv)


def _allowed_hosts(host: str, port: int, public_url: str | None) -> set[str]:
    names = {url_host(host)} if host not in WILDCARD_HOSTS else set()
    if is_loopback(host):
        names |= {"127.0.0.1", "localhost", "[::1]"}
    allowed = {f"{n}:{port}".lower() for n in names}
    if port in (80, 443):
        allowed |= {n.lower() for n in names}
    if public_url:
        allowed.add(urlsplit(public_url).netloc.lower())
    return allowed


def make_server(command: str, host: str, port: int, *, title: str,
                public_url: str | None = None):
    """A textual-serve ``Server`` with the Host/Origin checks described above."""
    import aiohttp_jinja2
    from textual_serve.server import Server

    loopback = is_loopback(host)
    per_request_url = public_url is None and host in WILDCARD_HOSTS
    url = public_url or f"http://{url_host(host if host not in WILDCARD_HOSTS else '127.0.0.1')}:{port}"
    allowed = _allowed_hosts(host, port, public_url)

    class GuardedServer(Server):
        """textual-serve's server, refusing foreign Hosts and cross-site websockets."""

        @web.middleware
        async def guard(self, request: web.Request, handler):
            asked = request.host.lower()
            if not _HOST_HEADER.match(asked):
                raise web.HTTPBadRequest(text="bad Host header")
            if loopback and asked not in allowed:
                raise web.HTTPForbidden(text="unknown Host (heatdesk serve answers only to "
                                             "its own address)")
            origin = request.headers.get("Origin")
            if (request.path == "/ws" and origin is not None
                    and urlsplit(origin).netloc.lower() not in allowed | {asked}):
                raise web.HTTPForbidden(text="cross-origin websocket refused")
            return await handler(request)

        async def _make_app(self) -> web.Application:
            app = await super()._make_app()
            app.middlewares.append(self.guard)
            return app

        @aiohttp_jinja2.template("app_index.html")
        async def handle_index(self, request: web.Request):
            if per_request_url:  # a wildcard bind: links follow the address asked for
                self.public_url = f"{request.scheme}://{request.host}"
            return await Server.handle_index.__wrapped__(self, request)

    return GuardedServer(command, host=host, port=port, title=title, public_url=url)


def run_serve(args: argparse.Namespace) -> int:
    """``heatdesk serve``: run textual-serve until interrupted; returns the exit code."""
    host = args.host if args.host is not None else "127.0.0.1"
    port = args.port if args.port is not None else 8000
    if not 0 < port < 65536:
        sys.stderr.write(f"heatdesk: --port must be between 1 and 65535, not {port}\n")
        return 1
    what = "wallboard" if getattr(args, "wallboard", False) else "desk"
    if not is_loopback(host):
        if not getattr(args, "public", False):
            sys.stderr.write(f"heatdesk: refusing to serve on {host}, which other machines can "
                             f"reach, without --public (textual-serve has no authentication)\n")
            return 1
        agent = f" as agent {args.agent!r}" if what == "desk" and getattr(args, "agent", None) \
            else ""
        sys.stderr.write(WARNING.format(host=host, port=port, what=what, agent=agent) + "\n")
    public_url = getattr(args, "public_url", None) or os.environ.get(PUBLIC_URL_ENV) or None
    server = make_server(serve_command(args), host, port, title=f"heatdesk {what}",
                         public_url=public_url)
    try:
        server.serve()
    except OSError as exc:
        sys.stderr.write(f"heatdesk: cannot serve on {url_host(host)}:{port}: "
                         f"{exc.strerror or exc}\n")
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
