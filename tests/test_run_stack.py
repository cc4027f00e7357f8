"""`make run`'s supervisor (scripts/run_stack.py), end to end: it brings the whole stack up, prints
the banner once /healthz answers, and takes everything down again, leaving no process behind."""
import http.client
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent
RUN_STACK = BASE_DIR / "scripts" / "run_stack.py"
BANNER_END = "Ctrl-C stops everything."
STARTUP_BOUND = 180  # seconds to the banner: migrations on a new SQLite database included
STOP_BOUND = 30  # seconds for the whole stack to be gone after SIGTERM

pytestmark = pytest.mark.slow


def missing_app_pieces():
    """What the stack test needs from the application that it does not have yet."""
    from django.urls import Resolver404, resolve

    missing = []
    try:
        resolve("/healthz")  # an app that fails to import fails here, loudly: no skip for that
    except Resolver404:
        missing.append("a GET /healthz route")
    from django.core.management import get_commands

    if "seed_demo" not in get_commands():
        missing.append("the seed_demo management command")
    return missing


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def refuses(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def http_get_status(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()


def live_processes_in_groups(pgids):
    """(pid, pgid, command) of every live, non-zombie process in one of the process groups."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        state, pgrp = fields[0], int(fields[2])
        if pgrp in pgids and state != "Z":
            found.append((int(entry.name), pgrp, cmdline.strip()))
    return found


class Output:
    """The supervisor's stdout, read line by line on a thread; wait_for blocks on new lines only."""

    def __init__(self, stream):
        self.lines = []
        self._queue = queue.Queue()
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream):
        for line in stream:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, predicate, timeout, seen=False):
        """The first line (a new one, or with `seen` also one already read) matching `predicate`."""
        if seen:
            for line in self.lines:
                if predicate(line):
                    return line
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                return None
            if line is None:  # EOF: the supervisor exited
                self._queue.put(None)
                return None
            self.lines.append(line)
            if predicate(line):
                return line

    def drain(self, timeout):
        self.wait_for(lambda line: False, timeout)
        return "\n".join(self.lines)

    def tail(self, count=120):
        return "\n".join(self.lines[-count:])


class Stack:
    def __init__(self, tmp_path, args=(), **extra_env):
        self.port = free_port()
        self.var_dir = tmp_path / "var"
        env = dict(os.environ)
        for name in ("REDIS_URL", "DATABASE_URL", "PUBLIC_BASE_URL", "HOST"):
            env.pop(name, None)  # its own Redis, and SQLite in its own VAR_DIR: no shared state
        env.update(PORT=str(self.port), VAR_DIR=str(self.var_dir), STARTUP_TIMEOUT="150", STOP_TIMEOUT="5",
                   **extra_env)
        self.proc = subprocess.Popen(
            [sys.executable, str(RUN_STACK), *args],
            cwd=BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group, as a terminal's Ctrl-C would see it
        )
        self.output = Output(self.proc.stdout)

    def wait_for_banner(self):
        line = self.output.wait_for(lambda line: BANNER_END in line, STARTUP_BOUND)
        if line is None:
            pytest.fail(f"no banner within {STARTUP_BOUND} s (exit code {self.proc.poll()}):\n{self.output.tail()}")
        lines = self.output.lines
        start = max(i for i, text in enumerate(lines[:-1]) if text.startswith("=" * 20))
        return "\n".join(lines[start:])

    def children(self):
        """{name: pid} from the supervisor's 'started NAME (pid N)' lines."""
        started = {}
        for line in self.output.lines:
            match = re.search(r"started (\w+) \(pid (\d+)\)", line)
            if match:
                started[match.group(1)] = int(match.group(2))
        return started

    def wait_exit(self):
        try:
            return self.proc.wait(STOP_BOUND)
        except subprocess.TimeoutExpired:
            pytest.fail(f"run_stack.py still running {STOP_BOUND} s after being told to stop:\n{self.output.tail()}")

    def stop_if_running(self):
        """After a failure half way: stop the supervisor (it stops its children; if it has to be
        killed, the kernel SIGTERMs them: PR_SET_PDEATHSIG)."""
        for sig, wait in ((signal.SIGTERM, STOP_BOUND), (signal.SIGKILL, 10)):
            if self.proc.poll() is not None:
                return
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(wait)
            except subprocess.TimeoutExpired:
                pass


@pytest.fixture
def stack(tmp_path, request):
    missing = missing_app_pieces()
    if missing:
        pytest.skip("run_stack end-to-end test needs " + " and ".join(missing) + ", which the app lacks so far")
    marker = request.node.get_closest_marker("stack_env")
    running = Stack(tmp_path, **(marker.kwargs if marker else {}))
    yield running
    running.stop_if_running()  # only does anything when the test failed half way


def assert_all_gone(stack, children, redis_port):
    groups = set(children.values())  # each child leads its own process group
    leftovers = live_processes_in_groups(groups)
    deadline = time.monotonic() + 5
    while leftovers and time.monotonic() < deadline:  # reparented grandchildren may take a moment
        time.sleep(0.1)
        leftovers = live_processes_in_groups(groups)
    assert not leftovers, f"processes left behind: {leftovers}\n{stack.output.tail()}"
    assert refuses(redis_port), "Redis still accepts connections"
    assert refuses(stack.port), "Daphne still accepts connections"


def test_run_stack_starts_everything_and_sigterm_stops_it_all(stack):
    banner = stack.wait_for_banner()

    assert http_get_status(stack.port, "/healthz") == 200
    assert f"http://localhost:{stack.port}/console/" in banner
    login = re.search(r"^login: (\S+) / (\S+)$", banner, re.M)
    assert login, banner
    api_key = re.search(r"^api key: (\S+)$", banner, re.M)
    assert api_key, banner
    key_file = stack.var_dir / "demo_api_key"
    if key_file.exists():
        assert key_file.read_text().strip() == api_key.group(1)
    redis_port = int(re.search(r"^redis: redis://127\.0\.0\.1:(\d+)/0", banner, re.M).group(1))

    children = stack.children()
    assert {"redis", "web", "worker", "beat"} <= set(children), children
    assert stack.proc.poll() is None
    # Children's output comes through, prefixed with their names.
    assert any(line.startswith("web ") for line in stack.output.lines)
    # The worker may have been ready before the banner (read while waiting for it): seen lines count.
    assert stack.output.wait_for(lambda line: line.startswith("worker ") and "ready" in line, 120, seen=True), (
        "the Celery worker never said it was ready:\n" + stack.output.tail()
    )

    os.killpg(stack.proc.pid, signal.SIGTERM)
    started = time.monotonic()
    assert stack.wait_exit() == 0, stack.output.drain(5)
    output = stack.output.drain(5)
    assert "all stopped" in output
    assert time.monotonic() - started < STOP_BOUND
    assert_all_gone(stack, children, redis_port)


@pytest.mark.stack_env(WEB_PROCESSES="2")
def test_run_stack_stops_everything_when_a_child_dies(stack):
    banner = stack.wait_for_banner()
    redis_port = int(re.search(r"^redis: redis://127\.0\.0\.1:(\d+)/0", banner, re.M).group(1))
    children = stack.children()
    # Two web processes on one port (SO_REUSEPORT): both up, the port answers.
    assert {"web1", "web2"} <= set(children) and "web" not in children, children
    assert http_get_status(stack.port, "/healthz") == 200

    # The worker may have been ready before the banner (read while waiting for it): seen lines count.
    assert stack.output.wait_for(lambda line: line.startswith("worker ") and "ready" in line, 120, seen=True)
    # SIGKILL leaves the worker's pool processes behind: the supervisor must reap those too.
    os.kill(children["worker"], signal.SIGKILL)

    assert stack.wait_exit() != 0
    output = stack.output.drain(5)
    assert re.search(r"worker \(pid \d+\) died unexpectedly \(killed by SIGKILL\)", output), output[-4000:]
    assert_all_gone(stack, children, redis_port)
