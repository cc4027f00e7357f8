"""The project's own processes for tests that need them for real: Daphne, on the test database."""
import os
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager

from django.conf import settings
from django.db import connection

from .servers import free_port


def database_url():
    """The test database as a DATABASE_URL, for processes started by a test."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def project_env(**extra):
    return {**os.environ, "DATABASE_URL": database_url(), "PYTHONUNBUFFERED": "1", **extra}


@contextmanager
def daphne(redis_url, timeout=60):
    """A Daphne process serving the project on a free port; yields its base URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "escalation.asgi:application"],
        env=project_env(REDIS_URL=redis_url, PUBLIC_BASE_URL=f"http://127.0.0.1:{port}"), cwd=settings.BASE_DIR,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:  # bounded: until it answers /healthz, or it died, or the deadline
            assert process.poll() is None, f"daphne exited with {process.returncode}"
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "daphne did not answer /healthz in time"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
