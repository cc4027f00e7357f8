"""What the benchmarks share: the stack as `make run` starts it, the baseline app, load generators,
a console login, a minimal websocket client, percentiles. Standard library only (plus wrk if installed).
"""
from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import re
import shutil
import signal
import socket
import base64
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

BASE_DIR = Path(__file__).resolve().parents[2]
# The checkout whose stack is measured (default: this one). Another checkout (same venv) gives a
# before/after comparison on the same machine: BENCH_APP_DIR=/path/to/other/checkout.
APP_DIR = Path(os.environ.get("BENCH_APP_DIR") or BASE_DIR).resolve()
PYTHON = sys.executable
BIN_DIR = Path(sys.executable).parent
HOST = "127.0.0.1"
QUIET = os.environ.get("BENCH_VERBOSE", "") == ""

BENIGN_TEXTS = [
    "Can you recommend a good book about gardening?",
    "What should I cook tonight with rice and eggs?",
    "I had a nice walk in the park today.",
    "Tell me a joke about cats.",
    "今天天气不错，我们聊聊电影吧。",
    "How do I say good morning in French?",
    "My team won the match yesterday!",
    "What is the capital of Australia?",
]
EXPLICIT_TEXT = "I am going to kill myself tonight, I have the pills ready."


def log(text):
    print(f"  . {text}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def pct(values, p):
    """The p-th percentile (nearest rank) of values; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))
    return ordered[k]


def spread(values, fmt="{:.2f}"):
    """'median (min-max, n=3)' for a list of figures from repeated runs."""
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(statistics.median(values))} (min {fmt.format(min(values))}, max {fmt.format(max(values))}, n={len(values)})"


def wait_http(port, path="/healthz", timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status < 500:
                return True
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"nothing answered on port {port} within {timeout} s")


def rss_kb(pid) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def group_pids(pgid) -> list[int]:
    """Every process whose process group is `pgid` (a stack child and what it forked)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == pgid:
                    pids.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                pass
    return pids


# --- the real stack, as `make run` starts it -------------------------------------------------------


class Stack:
    """scripts/run_stack.py with its own PORT, VAR_DIR (a temp dir) and Redis; stop() ends it all."""

    def __init__(self, extra_env=None, var_dir=None):
        self.port = free_port()
        self.var_dir = Path(var_dir or tempfile.mkdtemp(prefix="bench-var-"))
        self.own_var = var_dir is None
        self.env = dict(os.environ)
        self.env.pop("REDIS_URL", None)  # its own Redis, as make run does
        self.env.pop("DATABASE_URL", None)
        # The console's socket accepts pages of PUBLIC_BASE_URL only (WebSocket sends that Origin).
        self.env.update(PORT=str(self.port), VAR_DIR=str(self.var_dir), LOG_LEVEL="WARNING",
                        PUBLIC_BASE_URL=f"http://{HOST}:{self.port}", PYTHONUNBUFFERED="1", **(extra_env or {}))
        self.pids, self.lines, self.api_key, self.logins = {}, [], None, {}
        self.proc = None

    def start(self, timeout=180):
        self.proc = subprocess.Popen([PYTHON, "scripts/run_stack.py"], cwd=APP_DIR, env=self.env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     start_new_session=True, text=True, bufsize=1)
        ready = threading.Event()

        def read():
            for line in self.proc.stdout:
                line = line.rstrip("\n")
                self.lines.append(line)
                if not QUIET:
                    print("    stack| " + line, file=sys.stderr)
                m = re.search(r"started (\w+) \(pid (\d+)\)", line)
                if m:
                    self.pids[m.group(1)] = int(m.group(2))
                m = re.match(r"^api key: (\S+)", line)
                if m:
                    self.api_key = m.group(1)
                m = re.match(r"^(login|supervisor): (\S+) / (\S+)", line)
                if m:
                    self.logins[m.group(1)] = (m.group(2), m.group(3))
                if "Ctrl-C stops everything" in line:
                    ready.set()
            ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(timeout) or self.proc.poll() is not None or not self.api_key:
            tail = "\n".join(self.lines[-30:])
            self.stop()
            raise RuntimeError(f"the stack did not come up:\n{tail}")
        return self

    def pid_of(self, name):
        return self.pids.get(name)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # the supervisor stops its children
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.own_var:
            shutil.rmtree(self.var_dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class Baseline:
    """The smallest Django app (scripts/bench/baseline_app.py) under the same Daphne command line."""

    def __init__(self):
        self.port = free_port()
        self.proc = None

    def start(self):
        env = dict(os.environ, DJANGO_SETTINGS_MODULE="scripts.bench.baseline_app", PYTHONUNBUFFERED="1")
        daphne = str(BIN_DIR / "daphne") if (BIN_DIR / "daphne").exists() else "daphne"
        self.proc = subprocess.Popen([daphne, "-b", HOST, "-p", str(self.port), "scripts.bench.baseline_app:application"],
                                     cwd=BASE_DIR, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        wait_http(self.port, "/healthz")
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# --- HTTP helpers ---------------------------------------------------------------------------------


def message_body(msg_id, conversation, text, user=None):
    return json.dumps({"id": msg_id, "user": user or f"u-{conversation}", "role": "user", "text": text})


def api_request(port, key, method, path, body=None, conn=None):
    """One request; returns (status, parsed JSON or None, response time in s)."""
    own = conn is None
    conn = conn or http.client.HTTPConnection(HOST, port, timeout=30)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    started = time.perf_counter()
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    elapsed = time.perf_counter() - started
    if own:
        conn.close()
    try:
        return response.status, json.loads(data or b"null"), elapsed
    except ValueError:
        return response.status, None, elapsed


def login(port, username, password) -> str:
    """Log in as a browser does (GET the form for the CSRF token, POST it back); the session cookie."""
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    conn.request("GET", "/accounts/login/")
    response = conn.getresponse()
    page = response.read().decode()
    cookies = {}
    for header, value in response.getheaders():
        if header.lower() == "set-cookie":
            name, _, rest = value.partition("=")
            cookies[name] = rest.split(";", 1)[0]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    body = urlencode({"username": username, "password": password, "csrfmiddlewaretoken": token, "next": "/console/"})
    conn.request("POST", "/accounts/login/", body=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={cookies['csrftoken']}",
        "Referer": f"http://{HOST}:{port}/accounts/login/"})
    response = conn.getresponse()
    response.read()
    for header, value in response.getheaders():
        if header.lower() == "set-cookie" and value.startswith("sessionid="):
            return value.split(";", 1)[0].split("=", 1)[1]
    raise RuntimeError(f"login as {username} failed (status {response.status})")


class WebSocket:
    """A minimal RFC 6455 client (text frames; answers pings) for the console's socket.

    A reader thread stamps every frame with time.perf_counter() on arrival: `frames` is a list
    of (arrival, parsed JSON)."""

    def __init__(self, port, path="/ws/console/", session=None):
        self.sock = socket.create_connection((HOST, port), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        cookie = f"Cookie: sessionid={session}\r\n" if session else ""
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                           f"Origin: http://{HOST}:{port}\r\n{cookie}\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise RuntimeError("websocket handshake: connection closed")
            head += chunk
        head, self._buffer = head.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise RuntimeError(f"websocket handshake refused: {head[:200]!r}")
        self.sock.settimeout(None)
        self.frames = []
        self.changed = threading.Condition()
        self.closed = False
        self._send_lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _recv_exact(self, n):
        while len(self._buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self._buffer += chunk
        data, self._buffer = self._buffer[:n], self._buffer[n:]
        return data

    def _read(self):
        message = b""
        try:
            while True:
                b1, b2 = self._recv_exact(2)
                opcode, length = b1 & 0x0F, b2 & 0x7F
                if length == 126:
                    length = int.from_bytes(self._recv_exact(2), "big")
                elif length == 127:
                    length = int.from_bytes(self._recv_exact(8), "big")
                payload = self._recv_exact(length)  # server frames are not masked
                if opcode == 0x9:
                    self._send(0xA, payload)
                elif opcode == 0x8:
                    break
                elif opcode in (0x1, 0x0):
                    message += payload
                    if b1 & 0x80:
                        arrived = time.perf_counter()
                        with self.changed:
                            self.frames.append((arrived, json.loads(message)))
                            self.changed.notify_all()
                        message = b""
        except (EOFError, OSError):
            pass
        with self.changed:
            self.closed = True
            self.changed.notify_all()

    def _send(self, opcode, payload: bytes):
        mask = os.urandom(4)
        n = len(payload)
        header = bytes([0x80 | opcode])
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + n.to_bytes(2, "big")
        else:
            header += bytes([0x80 | 127]) + n.to_bytes(8, "big")
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        with self._send_lock:
            self.sock.sendall(header + mask + masked)

    def send_json(self, frame):
        self._send(0x1, json.dumps(frame).encode())

    def wait_for(self, predicate, timeout=10, start=0):
        """The first (arrival, frame) at index >= start matching predicate(frame); None after timeout."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for arrived, frame in self.frames[start:]:
                    if predicate(frame):
                        return arrived, frame
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.closed:
                    return None
                self.changed.wait(remaining)

    def close(self):
        try:
            self._send(0x8, b"\x03\xe8")
        except OSError:
            pass
        self.sock.close()


# --- load -------------------------------------------------------------------------------------------

WRK_SCRIPT = r"""
-- POST benign messages over {conversations} conversations, each with a unique message id.
local texts = {texts}
local counter = 0
local threads_seen = 0
function setup(thread)
  threads_seen = threads_seen + 1
  thread:set("tid", threads_seen)  -- a global in that thread's Lua state
end
function init(args)
  tid = tonumber(tid) or 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer {key}"
end
function request()
  counter = counter + 1
  local conv = (counter * 7 + tid * 13) % {conversations}
  local text = texts[(counter % #texts) + 1]
  local body = string.format('{{"id":"{run}-%d-%d","user":"u-%d","role":"user","text":"%s"}}', tid, counter, conv, text)
  return wrk.format(nil, "/api/v1/conversations/c-" .. conv .. "/messages", nil, body)
end
"""


def have_wrk():
    return shutil.which("wrk")


def run_wrk(port, key, seconds, connections=32, threads=2, conversations=200, run_id="w"):
    """wrk against the messages endpoint; returns {'rps', 'p50', 'p99', 'errors', 'requests'} (times in s)."""
    texts = "{" + ", ".join(json.dumps(t, ensure_ascii=False) for t in BENIGN_TEXTS) + "}"  # raw UTF-8 for Lua
    script = WRK_SCRIPT.format(conversations=conversations, texts=texts, key=key, run=run_id)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
        path = f.name
    try:
        out = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--latency", "--timeout", "10s",
                              "-s", path, f"http://{HOST}:{port}"], capture_output=True, text=True, timeout=seconds + 60)
    finally:
        os.unlink(path)
    text = out.stdout

    def latency(label):
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        if not m:
            return None
        return float(m.group(1)) * {"us": 1e-6, "ms": 1e-3, "s": 1.0}[m.group(2)]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    requests = int(re.search(r"(\d+) requests in", text).group(1))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        errors += sum(int(x) for x in m.groups())
    return {"rps": rps, "p50": latency("50"), "p99": latency("99"), "errors": errors, "requests": requests,
            "tool": "wrk"}


def _py_worker(args):
    """One load process: `threads` keep-alive connections, closed loop (or paced at `rate` per s)."""
    port, key, seconds, threads, conversations, run_id, rate, index = args
    stop_at = time.monotonic() + seconds
    results = []
    lock = threading.Lock()

    def client(t):
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        n, ok, errors, latencies = 0, 0, 0, []
        interval = threads / rate if rate else 0
        next_at = time.monotonic() + (t * interval / threads if rate else 0)
        while True:
            now = time.monotonic()
            if now >= stop_at:
                break
            if rate:
                if next_at > now:
                    time.sleep(min(next_at - now, stop_at - now))
                    if time.monotonic() >= stop_at:
                        break
                next_at += interval
            n += 1
            conv = (n * 7 + t * 13 + index * 101) % conversations
            body = message_body(f"{run_id}-{index}-{t}-{n}", f"c-{conv}", BENIGN_TEXTS[n % len(BENIGN_TEXTS)],
                                user=f"u-{conv}")
            try:
                status, _, elapsed = api_request(port, key, "POST", f"/api/v1/conversations/c-{conv}/messages",
                                                 body, conn=conn)
                if status in (200, 201):
                    ok += 1
                    latencies.append(elapsed)
                else:
                    errors += 1
            except (OSError, http.client.HTTPException):
                errors += 1
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=30)
        with lock:
            results.append((ok, errors, latencies))

    pool = [threading.Thread(target=client, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    ok = sum(r[0] for r in results)
    errors = sum(r[1] for r in results)
    latencies = [x for r in results for x in r[2]]
    return ok, errors, latencies


def run_python_load(port, key, seconds, connections=32, processes=2, conversations=200, run_id="p", rate=None):
    """The fallback when wrk is missing, and the paced background load: http.client keep-alive
    connections in threads, spread over processes. `rate` (requests/s, total) paces it; None: flat out."""
    per = max(1, connections // processes)
    jobs = [(port, key, seconds, per, conversations, run_id, (rate / processes) if rate else None, i)
            for i in range(processes)]
    started = time.monotonic()
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        parts = pool.map(_py_worker, jobs)
    elapsed = time.monotonic() - started
    ok = sum(p[0] for p in parts)
    latencies = [x for p in parts for x in p[2]]
    return {"rps": ok / max(elapsed, seconds), "p50": pct(latencies, 50), "p99": pct(latencies, 99),
            "errors": sum(p[1] for p in parts), "requests": ok, "tool": "python"}


def load(port, key, seconds, connections=32, run_id="l"):
    if have_wrk():
        return run_wrk(port, key, seconds, connections=connections, run_id=run_id)
    return run_python_load(port, key, seconds, connections=connections, run_id=run_id)


class BackgroundLoad:
    """A paced stream of benign messages (e.g. 100/s) in other processes while a benchmark measures."""

    def __init__(self, port, key, rate, seconds, run_id="bg", connections=16):
        self.args = (port, key, seconds, connections, 2, 200, run_id, rate)
        self.result = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        port, key, seconds, connections, processes, conversations, run_id, rate = self.args
        self.result = run_python_load(port, key, seconds, connections=connections, processes=processes,
                                      conversations=conversations, run_id=run_id, rate=rate)

    def start(self):
        self.thread.start()
        return self

    def join(self):
        self.thread.join()
        return self.result


def django_script(var_dir, code, env=None, timeout=3600):
    """Run Python `code` in a subprocess with Django set up on the stack's settings and `var_dir`;
    returns its last stdout line parsed as JSON."""
    prelude = ("import django, json, os, sys, time\n"
               f"sys.path.insert(0, {str(APP_DIR)!r})\n"
               "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'escalation.settings')\n"
               "django.setup()\n")
    run_env = dict(os.environ, VAR_DIR=str(var_dir), LOG_LEVEL="WARNING", **(env or {}))
    run_env.pop("DATABASE_URL", None)
    out = subprocess.run([PYTHON, "-c", prelude + code], cwd=APP_DIR, env=run_env, capture_output=True, text=True,
                         timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"helper script failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])
