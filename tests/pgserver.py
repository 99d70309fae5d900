"""A throwaway PostgreSQL cluster for tests and load runs: Debian's server binaries, a temp
directory, a free loopback port. Killed with SIGKILL and started again to test durability.

initdb refuses to run as root; as root the server runs as the ``postgres`` user that
Debian's package creates (through ``runuser``).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def _server_bin() -> Path:
    """$SSLABEL_PG_BIN, else the newest of Debian's /usr/lib/postgresql/<version>/bin."""
    if os.environ.get("SSLABEL_PG_BIN"):
        return Path(os.environ["SSLABEL_PG_BIN"])
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0,
    )
    return found[-1].parent if found else Path("/usr/lib/postgresql/15/bin")


BIN = _server_bin()
USER = "sslabel"
DATABASE = "sslabel"


class Unavailable(RuntimeError):
    """The server binaries or the Python driver are missing."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresCluster:
    """``initdb`` + ``pg_ctl`` in a temp dir; ``url()`` names a database on it."""

    def __init__(self) -> None:
        if not (BIN / "initdb").exists():
            raise Unavailable(f"{BIN / 'initdb'} is missing (apt-get install postgresql)")
        try:
            import psycopg  # noqa: F401
        except ImportError as exc:
            raise Unavailable("psycopg is missing (pip install -e '.[postgres]')") from exc
        self.as_user: list[str] = []
        self.root = Path(tempfile.mkdtemp(prefix="sslabel-pg-"))
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.data = self.root / "data"
        self.port = _free_port()
        self._run("initdb", "-D", str(self.data), "-U", USER, "--auth=trust", "-E", "UTF8",
                  "--no-locale", "--no-sync")  # fmt: skip
        self.start()
        self.execute(f"CREATE DATABASE {DATABASE}")

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run(
            [*self.as_user, str(BIN / tool), *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=self.root, text=True,
        )  # fmt: skip
        if done.returncode:
            log = self.root / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{tool} failed: {done.stdout[-2000:]}\n{tail}")

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
            "-c fsync=on -c synchronous_commit=on -c max_connections=200"
        )
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l",
                  str(self.root / "server.log"), "-w", "-t", "120", "start")  # fmt: skip

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def kill(self) -> None:
        """SIGKILL the server and every backend it started: a crash, no shutdown at all."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        victims = [postmaster, *_children(postmaster)]
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 30
        while any(_alive(pid) for pid in victims) and time.monotonic() < deadline:
            time.sleep(0.05)
        # A killed server leaves its lock file. PostgreSQL removes a stale one itself, but
        # it takes a zombie (a dead process nobody reaped, as under a container's init
        # that reaps nothing) for a live server; every victim is dead, so remove it.
        (self.data / "postmaster.pid").unlink(missing_ok=True)

    def url(self, database: str = DATABASE, schema: str | None = None) -> str:
        url = f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{database}"
        return f"{url}?options=-csearch_path%3D{schema}" if schema else url

    def execute(self, sql: str, database: str = "postgres") -> None:
        import psycopg

        dsn = f"host=127.0.0.1 port={self.port} user={USER} dbname={database}"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql)

    def close(self) -> None:
        try:
            self.stop()
        except RuntimeError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
