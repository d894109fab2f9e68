"""Real server processes for integration tests: daphne, Celery workers, private Redis.

Each is a subprocess with its own log file; start-up waits until the process really answers
(a TCP connection for daphne and Redis, a control ping for a worker) and a failure to start
raises with the tail of the process's log.  Stopping sends SIGTERM, waits, then kills.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from celery import Celery

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_SECRET_KEY = "integration-tests-secret-key-not-for-production"


def run_manage(env: dict[str, str], *arguments: str) -> str:
    """``manage.py ARGUMENTS`` in a platform process's environment; its output (fails loudly)."""
    completed = subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=REPO_ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return completed.stdout


def recreate_database(name: str) -> None:
    """A fresh, empty PostgreSQL database ``name`` on the machine's server."""
    for statement in (f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}"):
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", statement],
            check=True,
            capture_output=True,
        )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def platform_env(database_url: str, redis_url: str | None, **extra: str) -> dict[str, str]:
    """The environment of a platform process: real settings module, given services."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url,
        "SECRET_KEY": TEST_SECRET_KEY,
        "PYTHONUNBUFFERED": "1",
        **extra,
    }
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


class ServerProcess:
    """A subprocess whose output goes to a log file, stopped cleanly on ``stop()``."""

    def __init__(self, name: str, command: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.command = command
        self.env = env
        self.log_path = Path(tempfile.mkstemp(prefix=f"{name}-", suffix=".log")[1])
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, ready: Callable[[], bool], timeout: float = 60.0) -> ServerProcess:
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                self.command, cwd=REPO_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            if ready():
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} did not become ready in {timeout} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 15.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=timeout)


def start_daphne(env: dict[str, str]) -> tuple[ServerProcess, str]:
    port = free_port()
    server = ServerProcess(
        "daphne",
        [
            sys.executable,
            "-m",
            "daphne",
            # Daphne's own access log prints query strings; config.request_log replaces it.
            "--verbosity",
            "0",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "config.asgi:application",
        ],
        env,
    )
    server.start(ready=lambda: port_open(port))
    return server, f"http://127.0.0.1:{port}"


#: What the suite's workers leave out to start faster; ``make worker`` runs with all three.
QUIET_WORKER_OPTIONS = ("--without-gossip", "--without-mingle", "--without-heartbeat")


def start_celery_worker(
    env: dict[str, str],
    redis_url: str,
    broker_url: str | None = None,
    options: tuple[str, ...] = QUIET_WORKER_OPTIONS,
) -> tuple[ServerProcess, str]:
    """A worker consuming the inference and default queues, ready once it answers a ping
    (sent through ``broker_url`` when the broker is not the Redis at ``redis_url``);
    ``options=()`` starts it as ``make worker`` does."""
    nodename = f"test-{uuid.uuid4().hex[:8]}@{socket.gethostname()}"
    worker = ServerProcess(
        "celery-worker",
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            "inference,default",
            "-n",
            nodename,
            "--loglevel",
            "INFO",
            *options,
        ],
        env,
    )
    probe = Celery(broker=broker_url or redis_url, backend=redis_url)

    def answers() -> bool:
        return bool(probe.control.ping(destination=[nodename], timeout=0.5))

    try:
        worker.start(ready=answers, timeout=90.0)
    finally:
        probe.close()
    return worker, nodename


def start_redis(port: int | None = None) -> tuple[ServerProcess, str]:
    """A private Redis on a free port (or ``port``: to start it again after stopping it), for
    tests that stop it on purpose."""
    port = port or free_port()
    server = ServerProcess(
        "redis",
        [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        dict(os.environ),
    )
    server.start(ready=lambda: port_open(port), timeout=20.0)
    return server, f"redis://127.0.0.1:{port}/0"


#: The RabbitMQ server script itself (Debian's /usr/sbin wrapper would switch to the rabbitmq
#: user, whose home holds the machine's node's cookie).
RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"  # = services.RABBITMQ.binary


def start_rabbitmq() -> tuple[ServerProcess, str]:
    """A private RabbitMQ node (its own name, ports, data and logs in a temporary folder), for
    tests that break the broker's consumers; the machine's own node is never touched.

    Only the name service (epmd, shared by every Erlang node on the machine) is common.
    Starting takes about 5-15 s (the Erlang VM, then the broker's boot steps)."""
    home = Path(tempfile.mkdtemp(prefix="rabbitmq-"))
    port, dist_port = free_port(), free_port()
    env = {
        **os.environ,
        "HOME": str(home),  # the node's own Erlang cookie is made here
        "RABBITMQ_NODENAME": f"test-{uuid.uuid4().hex[:8]}@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(dist_port),
        "RABBITMQ_MNESIA_BASE": str(home / "mnesia"),
        "RABBITMQ_LOG_BASE": str(home / "log"),
        "RABBITMQ_CONFIG_FILE": str(home / "rabbitmq"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(home / "enabled_plugins"),
        "RABBITMQ_PID_FILE": str(home / "rabbitmq.pid"),
    }
    server = ServerProcess("rabbitmq", [RABBITMQ_SERVER], env)
    server.start(ready=lambda: port_open(port), timeout=60.0)
    return server, f"amqp://guest:guest@127.0.0.1:{port}//"
