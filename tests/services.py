"""PostgreSQL, Redis and RabbitMQ for the test suite: find them, start them in CI, or explain.

In CI (``CI=true``) a service that is not running is started, and installed with apt-get
first when missing; if it still cannot be reached the run fails.  On a developer machine a
missing service makes the tests that need it skip, with the command that starts it.

RabbitMQ is different: the broker fault tests start private nodes of their own
(``tests.servers.start_rabbitmq``), so they need the server installed, not running
(``require_installed``); the machine's node on 5672 is never used by the suite.  Poppler,
which reads the PDF reports back, is the same kind of need: a program, not a service.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@dataclass(frozen=True)
class Program:
    """Something the suite runs itself: it must be installed (``binary`` on the PATH)."""

    name: str
    apt_package: str
    binary: str
    start_hint: str


@dataclass(frozen=True)
class Service(Program):
    """A server the suite connects to: it must also be listening on ``host:port``."""

    host: str
    port: int

    def reachable(self, timeout: float = 1.0) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=timeout):
                return True
        except OSError:
            return False


POSTGRES = Service(
    name="PostgreSQL",
    host="127.0.0.1",
    port=5432,
    apt_package="postgresql",
    binary="pg_ctlcluster",
    start_hint="pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
)
REDIS = Service(
    name="Redis",
    host="127.0.0.1",
    port=6379,
    apt_package="redis-server",
    binary="redis-server",
    start_hint='redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save ""',
)

RABBITMQ = Program(
    name="RabbitMQ",
    apt_package="rabbitmq-server",
    binary="/usr/lib/rabbitmq/bin/rabbitmq-server",
    start_hint="apt-get install rabbitmq-server",
)
POPPLER = Program(
    name="poppler-utils",
    apt_package="poppler-utils",
    binary="pdftotext",
    start_hint="apt-get install poppler-utils",
)


def _run(command: list[str], timeout: float = 600) -> None:
    subprocess.run(command, check=False, timeout=timeout)


def _install(service: Program) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=False, env=env, timeout=600)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", service.apt_package],
        check=False,
        env=env,
        timeout=900,
    )


def _trust_local_connections() -> None:
    """A freshly installed cluster asks for passwords on TCP; the suite uses trust auth."""
    for hba in glob.glob("/etc/postgresql/*/main/pg_hba.conf"):
        with open(hba) as handle:
            text = handle.read()
        if "127.0.0.1/32            trust" in text:
            continue
        with open(hba, "w") as handle:
            handle.write(
                "local all all trust\n"
                "host all all 127.0.0.1/32            trust\n"
                "host all all ::1/128                 trust\n" + text
            )


def _start(service: Service) -> None:
    if service is POSTGRES:
        _trust_local_connections()
        versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
        for version in versions[-1:]:
            _run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"])
    else:
        _run(
            [
                "redis-server",
                "--daemonize",
                "yes",
                "--bind",
                "127.0.0.1",
                "--port",
                "6379",
                "--save",
                "",
                "--appendonly",
                "no",
            ]
        )


def ensure(service: Service) -> str | None:
    """``None`` when the service is reachable, else the reason it is not (with the fix)."""
    if service.reachable():
        return None
    if IN_CI:
        if shutil.which(service.binary) is None:
            _install(service)
        _start(service)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if service.reachable():
                return None
            time.sleep(0.5)
    return (
        f"{service.name} is not reachable at {service.host}:{service.port}. "
        f"Start it with: {service.start_hint}"
    )


def ensure_installed(program: Program) -> str | None:
    """``None`` when the program is installed (in CI: installed if missing), else the reason
    it is not, with the fix."""
    if shutil.which(program.binary) is None and IN_CI:
        _install(program)
    if shutil.which(program.binary) is not None:
        return None
    return (
        f"{program.name} is not installed ({program.binary}). Install it with: {program.start_hint}"
    )


def require_installed(program: Program) -> None:
    """For a test that needs the program: skip it on a developer machine that lacks it, fail
    it in CI (where a skip would hide that the test never ran)."""
    reason = ensure_installed(program)
    if reason is not None and IN_CI:
        pytest.fail(f"CI needs {reason}")
    if reason is not None:
        pytest.skip(reason)
