"""PostgreSQL, Redis and RabbitMQ for the test suite: find them, start them in CI, or explain.

In CI (``CI=true``) a service that is not running is started, and installed with apt-get
first when missing; if it still cannot be reached the run fails.  On a developer machine a
missing service makes the tests that need it skip, with the command that starts it.

RabbitMQ is different: the broker fault tests start private nodes of their own
(``tests.servers.start_rabbitmq``), so they need the server installed, not running
(``ensure_installed``); the machine's node on 5672 is never used by the suite.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@dataclass(frozen=True)
class Service:
    name: str
    host: str
    port: int
    apt_package: str
    binary: str
    start_hint: str

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

RABBITMQ = Service(
    name="RabbitMQ",
    host="127.0.0.1",
    port=5672,
    apt_package="rabbitmq-server",
    binary="/usr/lib/rabbitmq/bin/rabbitmq-server",
    start_hint="apt-get install rabbitmq-server",
)


def _run(command: list[str], timeout: float = 600) -> None:
    subprocess.run(command, check=False, timeout=timeout)


def _install(service: Service) -> None:
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


def ensure_installed(service: Service) -> str | None:
    """``None`` when the service's server program is installed (in CI: installed if missing),
    else the reason it is not, with the fix; for tests that start private servers."""
    if shutil.which(service.binary) is None and IN_CI:
        _install(service)
    if shutil.which(service.binary) is not None:
        return None
    return (
        f"{service.name} is not installed ({service.binary}). Install it with: {service.start_hint}"
    )
