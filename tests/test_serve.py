"""`make serve` (scripts/run_stack.py --serve), the production start, and the files and logs of
both starts (issue 12, items 3 and 15): no demo data, no secret printed, bound where HOST says,
private files, no verification token in the log. One end-to-end start; the rest is cheap."""
import http.client
import importlib.util
import os
import re
import secrets
import signal
import stat
import subprocess
import sys

import pytest

from tests.test_run_stack import BASE_DIR, RUN_STACK, Stack, missing_app_pieces

spec = importlib.util.spec_from_file_location("run_stack", RUN_STACK)
run_stack = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run_stack)

GOOD_KEY = secrets.token_urlsafe(50)


@pytest.mark.parametrize("value, problem", [
    (None, "not set"), ("", "not set"), ("   ", "not set"),
    ("insecure-local-only-" + str(BASE_DIR), "local default"),
    ("short", "weak"), ("django-insecure-" + "x" * 60, "weak"), ("ab" * 40, "weak"),
])
def test_a_secret_key_unfit_to_serve_with_is_named(value, problem):
    assert problem in run_stack.secret_key_problem(value)


def test_a_long_random_secret_key_is_fine():
    assert run_stack.secret_key_problem(GOOD_KEY) is None


def test_printed_urls_and_lines_hide_passwords_and_verification_tokens():
    assert run_stack.redact_url("redis://:s3cret@cache:6379/0") == "redis://:***@cache:6379/0"
    assert run_stack.redact_url("redis://user:s3cret@cache/0") == "redis://user:***@cache/0"
    assert run_stack.redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    line = '127.0.0.1:5555 - - [02/Dec/2026:00:00:00] "GET /c/verify/Ab-9_xYz.Q?x=1" 200 512'
    assert run_stack.redact_line(line) == '127.0.0.1:5555 - - [02/Dec/2026:00:00:00] "GET /c/verify/[redacted]?x=1" 200 512'
    sms = "confirm at http://localhost:8000/c/verify/Ab-9_xYz. Thanks"
    assert "Ab-9_xYz" not in run_stack.redact_line(sms)


@pytest.mark.parametrize("value", ["", "insecure-local-only-/srv/app"])
def test_serve_refuses_to_start_without_a_real_secret_key(tmp_path, value):
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update(SECRET_KEY=value, VAR_DIR=str(tmp_path / "var"), PORT="1")
    done = subprocess.run([sys.executable, str(RUN_STACK), "--serve"], cwd=BASE_DIR, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "refusing to start" in done.stderr and "SECRET_KEY" in done.stderr
    assert "started" not in done.stdout and not (tmp_path / "var").exists()  # nothing was started


def request(host, port, path):
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        conn.request("GET", path, headers={"Host": f"localhost:{port}"})
        return conn.getresponse().status
    finally:
        conn.close()


def private(path):
    return stat.S_IMODE(path.stat().st_mode) & 0o077 == 0


@pytest.mark.slow
def test_serve_binds_host_serves_no_demo_prints_no_secret_and_keeps_files_and_tokens_private(tmp_path):
    missing = missing_app_pieces()
    if missing:
        pytest.skip("needs " + " and ".join(missing))
    var_dir = tmp_path / "var"
    var_dir.mkdir(mode=0o755)
    var_dir.chmod(0o755)
    old = var_dir / "from-an-older-start.log"
    old.write_text("x")
    old.chmod(0o644)
    token = "Tok3n" + secrets.token_urlsafe(24)
    stack = Stack(tmp_path, args=["--serve"], SECRET_KEY=GOOD_KEY, HOST="127.0.0.2", DEMO="1")
    try:
        banner = stack.wait_for_banner()
        assert f"http://localhost:{stack.port}/console/" in banner
        # Bound where HOST says, and only there.
        assert request("127.0.0.2", stack.port, "/healthz") == 200
        with pytest.raises(ConnectionRefusedError):
            request("127.0.0.1", stack.port, "/healthz")
        assert request("127.0.0.2", stack.port, "/demo/") == 404  # DEMO=1 in the environment or not
        assert request("127.0.0.2", stack.port, f"/c/verify/{token}") == 410
        logged = stack.output.wait_for(lambda line: line.startswith("web ") and "/c/verify/" in line, 30)
        assert logged and "/c/verify/[redacted]" in logged, logged
        # Files: the folder and everything in it this user's only, older files included.
        assert stat.S_IMODE(var_dir.stat().st_mode) == 0o700
        assert private(var_dir / "db.sqlite3") and private(old) and private(var_dir / "redis")
        assert not (var_dir / "demo_api_key").exists()
    finally:
        stack.stop_if_running()
    assert stack.proc.returncode == 0
    output = stack.output.drain(5)
    assert "all stopped" in output
    assert token not in output and GOOD_KEY not in output
    assert not re.search(r"^(login|api key|supervisor):", output, re.M), output
    assert "seed_demo" not in output and "started seed" not in output
    files = [p for p in var_dir.rglob("*")]
    assert (var_dir / "redis" / "dump.rdb") in files  # Redis saved on the way out
    assert all(private(p) for p in files), [(p, oct(p.stat().st_mode)) for p in files if not private(p)]


def test_django_creates_the_var_dir_private_when_it_makes_the_sqlite_database(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(VAR_DIR=str(tmp_path / "fresh"), DJANGO_SETTINGS_MODULE="escalation.settings")
    subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=BASE_DIR, env=env, check=True,
                   timeout=60)
    assert stat.S_IMODE((tmp_path / "fresh").stat().st_mode) == 0o700
