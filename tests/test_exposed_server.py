"""Who can reach the studio's server (issue 12, item 5).

A real ``sslabel app`` server is asked for its websocket (the channel every page and
action goes through) with foreign ``Host`` and ``Origin`` headers, as a DNS-rebinding page
or a cross-site page would send them.
"""

from __future__ import annotations

import base64
import os
import socket
from urllib.parse import urlparse

import pytest
from helpers import start_studio, stop_studio

from sslcore import cli
from sslcore.hosts import allowed_hosts, exposure_warning


def websocket_status(url: str, host: str, origin: str | None) -> int:
    """The HTTP status a websocket handshake to Streamlit's stream gets with these headers
    (101: connected; anything else: refused)."""
    parsed = urlparse(url)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        "GET /_stcore/stream HTTP/1.1",
        f"Host: {host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Protocol: streamlit",
    ]
    if origin:
        lines.append(f"Origin: {origin}")
    with socket.create_connection((parsed.hostname, parsed.port), timeout=20) as conn:
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        status_line = conn.makefile("rb").readline().decode()
    return int(status_line.split()[1])


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("exposed")
    process, url = start_studio(data_dir, "--no-demos", "--allowed-hosts", "labels.example.org")
    yield url
    stop_studio(process)


@pytest.mark.slow
def test_own_names_connect(studio):
    port = urlparse(studio).port
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"labels.example.org:{port}"):
        assert websocket_status(studio, host, f"http://{host}") == 101, host


@pytest.mark.slow
def test_dns_rebinding_host_is_refused(studio):
    # A page at attacker.example whose name now resolves to 127.0.0.1: same-origin for the
    # browser, so only the Host header gives it away.
    host = f"attacker.example:{urlparse(studio).port}"
    assert websocket_status(studio, host, f"http://{host}") != 101
    assert websocket_status(studio, host, None) != 101


@pytest.mark.slow
def test_cross_site_origin_is_refused(studio):
    host = f"127.0.0.1:{urlparse(studio).port}"
    assert websocket_status(studio, host, "http://attacker.example") != 101


def test_allowed_hosts_cover_this_machine_on_a_wildcard_bind():
    hosts = allowed_hosts("0.0.0.0", [" proxy.example.org ", ""])
    assert hosts[:3] == ["localhost", "127.0.0.1", "::1"]
    assert socket.gethostname().lower() in hosts and "proxy.example.org" in hosts
    assert "0.0.0.0" not in hosts and "" not in hosts
    assert allowed_hosts("192.168.1.5")[3] == "192.168.1.5"


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.5"])
def test_an_open_non_loopback_bind_warns_and_passes_the_host_check(
    tmp_path, monkeypatch, capsys, host
):
    launched = {}

    def capture(executable, command, env):  # the point where sslabel becomes the server
        launched["command"] = command

    monkeypatch.setattr(os, "execve", capture)
    cli.main(["app", "--host", host, "--no-sign-in", "--no-demos", "--data-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert "sslabel: WARNING: serving on" in err and "without sign-in (--no-sign-in)" in err
    command = launched["command"]
    allowed = [command[i + 1] for i, a in enumerate(command) if a == "--server.allowedHosts"]
    assert allowed == allowed_hosts(host)


def test_loopback_bind_does_not_warn(tmp_path, monkeypatch, capsys):
    launched = {}
    monkeypatch.setattr(os, "execve", lambda e, command, env: launched.update(command=command))
    cli.main(["app", "--no-demos", "--data-dir", str(tmp_path)])
    assert "WARNING" not in capsys.readouterr().err
    assert "--server.allowedHosts" in launched["command"]
    assert exposure_warning("127.0.0.1", 8501) is None
