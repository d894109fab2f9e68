"""Broker faults with predictions in flight (issue 20, items 1 and 2), on real servers.

Each test starts its own broker (a private ``redis-server``, or a private RabbitMQ node), a
real daphne and real Celery workers, and breaks that broker or a worker while VHS predictions
are on their way: the machine's own Redis and RabbitMQ are never touched.  What every test
asks: each request answers (200, or 503 while Redis is down) within the request timeout, and
usage events equal the billable responses.
"""

from __future__ import annotations

import base64
import io
import os
import re
import signal
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
import redis
import requests
from celery import Celery

from accounts.models import ApiKey, Customer
from billing.models import UsageEvent
from inference.phantoms.vhs import draw_radiograph
from inference.runtime import payloads
from inference.runtime.images import image_bytes
from tests import services
from tests.servers import (
    REPO_ROOT,
    ServerProcess,
    platform_env,
    start_celery_worker,
    start_daphne,
    start_rabbitmq,
    start_redis,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

#: Short enough that a hung request fails the test in about a minute.
REQUEST_TIMEOUT_S = 45
#: The Redis broker's redelivery delay in these tests (the shipped default is 60 s).
VISIBILITY_TIMEOUT_S = 5
IN_FLIGHT = 8


def radiograph_b64(seed: int, size: int = 3000) -> str:
    """A lateral radiograph large enough that the worker takes a good while on it."""
    dog = draw_radiograph(seed=seed, vhs=10.0 + seed % 3, vlas=2.0, crop=False)
    buffer = io.BytesIO()
    dog.image.convert("RGB").resize((size, size)).save(buffer, format="JPEG", quality=90)
    return base64.b64encode(buffer.getvalue()).decode()


@dataclass
class Answer:
    status: int
    seconds: float
    finished_at: float
    billable: bool


def predict(base_url: str, key: str, image: str) -> Answer:
    started = time.monotonic()
    response = requests.post(
        f"{base_url}/vhs/v3/predict",
        json={"image": image, "render": True},  # rendering: ~0.4 s of the worker's time
        headers={"x-api-key": key},
        timeout=REQUEST_TIMEOUT_S + 30,
    )
    billing = response.json().get("billing", {}) if response.status_code == 200 else {}
    now = time.monotonic()
    return Answer(response.status_code, now - started, now, bool(billing.get("billable")))


def predictions_in_flight(base_url: str, key: str, images: list[str]) -> list[Future[Answer]]:
    pool = ThreadPoolExecutor(len(images))
    futures = [pool.submit(predict, base_url, key, image) for image in images]
    pool.shutdown(wait=False)
    return futures


def billable_events() -> int:
    return UsageEvent.objects.filter(billable=True).count()


@dataclass
class Stack:
    """A private broker (and Redis for results), a daphne and the workers, stopped at the end."""

    redis: ServerProcess
    redis_url: str
    broker_url: str
    env: dict[str, str]
    base_url: str = ""
    broker: ServerProcess | None = None
    servers: list[ServerProcess] = field(default_factory=list)
    workers: dict[str, ServerProcess] = field(default_factory=dict)

    def add_worker(self) -> tuple[str, ServerProcess]:
        worker, name = start_celery_worker(self.env, self.redis_url, self.broker_url)
        self.servers.append(worker)
        self.workers[name] = worker
        return name, worker

    def add_workers(self, count: int) -> None:
        """Start ``count`` workers at once (each loads every model: seconds apiece)."""
        with ThreadPoolExecutor(count) as pool:
            started = list(pool.map(lambda _: self._start_worker(), range(count)))
        errors = [result for result in started if isinstance(result, Exception)]
        for result in started:
            if not isinstance(result, Exception):
                self.servers.append(result[0])
                self.workers[result[1]] = result[0]
        if errors:
            raise errors[0]

    def _start_worker(self) -> tuple[ServerProcess, str] | Exception:
        try:
            return start_celery_worker(self.env, self.redis_url, self.broker_url)
        except Exception as exc:
            return exc

    def start_daphne(self) -> None:
        daphne, self.base_url = start_daphne(self.env)
        self.servers.append(daphne)

    def control(self) -> Celery:
        return Celery(broker=self.broker_url, backend=self.redis_url)

    def stop(self) -> None:
        for server in reversed(self.servers):
            server.stop(timeout=5)
        if self.broker is not None:
            self.broker.stop(timeout=30)
        self.redis.stop()


def make_stack(test_database_url: str, broker: str, **settings: str) -> Stack:
    redis_server, redis_url = start_redis()
    rabbitmq, broker_url = (None, redis_url)
    if broker == "rabbitmq":
        try:
            rabbitmq, broker_url = start_rabbitmq()
        except Exception:
            redis_server.stop()
            raise
    settings = {
        "CELERY_BROKER_URL": broker_url,
        "REQUEST_TIMEOUT_SECONDS": str(REQUEST_TIMEOUT_S),
        "CELERY_WORKER_CONCURRENCY": "4",
        **settings,
    }
    env = platform_env(test_database_url, redis_url, **settings)
    return Stack(redis_server, redis_url, broker_url, env, broker=rabbitmq)


def wait_for_unacked(redis_url: str, timeout: float = 20.0) -> int:
    """Wait until a worker holds tasks it has not acknowledged (kombu's ``unacked`` hash)."""
    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            held = client.hlen("unacked")
            if held:
                return held
            time.sleep(0.05)
    finally:
        client.close()
    raise AssertionError("no task reached the worker")


def wait_for_empty_queue(redis_url: str, timeout: float = 20.0) -> None:
    """Wait until the workers have taken every task off the Redis ``inference`` queue."""
    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not sum(client.llen(k) for k in client.scan_iter("inference*")):
                time.sleep(0.2)  # past the instant of the last hand-over
                return
            time.sleep(0.05)
    finally:
        client.close()
    raise AssertionError("the workers never took every task")


def wait_for_active(stack: Stack, name: str, timeout: float = 20.0) -> int:
    """Wait until worker ``name`` is running tasks (asked over the broker's control channel)."""
    app = stack.control()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            active = (app.control.inspect([name], timeout=1.0).active() or {}).get(name)
            if active:
                return len(active)
            time.sleep(0.1)
    finally:
        app.close()
    raise AssertionError(f"{name} never ran a task")


def tasks_received(worker: ServerProcess) -> list[str]:
    return re.findall(r"Task inference\.tasks\.predict\[([0-9a-f-]+)\] received", worker.log_text())


# --- Item 1: a Redis outage with tasks in flight ------------------------------------------


@pytest.fixture
def redis_stack(test_database_url: str) -> Iterator[Stack]:
    stack = make_stack(test_database_url, "redis")
    try:
        stack.add_worker()
        stack.start_daphne()
        yield stack
    finally:
        stack.stop()


def test_a_redis_outage_with_tasks_in_flight_leaves_the_worker_running(redis_stack):
    key = ApiKey.issue(Customer.objects.create(name="Outage clinic"))[1]
    images = [radiograph_b64(seed) for seed in range(IN_FLIGHT)]
    (worker,) = redis_stack.workers.values()
    pid = worker.process.pid
    port = int(redis_stack.redis_url.rsplit(":", 1)[1].split("/")[0])

    futures = predictions_in_flight(redis_stack.base_url, key, images)
    wait_for_unacked(redis_stack.redis_url)
    redis_stack.redis.stop()
    stopped = time.monotonic()
    time.sleep(2.0)
    redis_stack.redis, _ = start_redis(port)
    answers = [future.result() for future in futures]

    log = worker.log_text()
    assert worker.process.poll() is None, log[-4000:]
    assert worker.process.pid == pid
    assert "Unrecoverable error" not in log, log[-4000:]
    assert all(a.status in (200, 503) for a in answers), [a.status for a in answers]
    assert all(a.seconds < REQUEST_TIMEOUT_S + 5 for a in answers), [a.seconds for a in answers]
    # The platform comes back by itself: the same worker serves the next prediction.
    after = predict(redis_stack.base_url, key, radiograph_b64(99, size=640))
    while after.status != 200 and time.monotonic() < stopped + 60:
        time.sleep(0.5)
        after = predict(redis_stack.base_url, key, radiograph_b64(99, size=640))
    print(f"served again {time.monotonic() - stopped:.1f} s after Redis stopped (2 s outage)")
    assert after.status == 200
    assert worker.process.pid == pid
    assert billable_events() == sum(a.billable for a in [*answers, after])


@pytest.mark.parametrize("transport", ["redis", "config.broker_transport:Transport"])
def test_closing_a_channel_whose_connection_was_detached_does_not_crash_the_worker(transport):
    """The state kombu's Redis channel is in when Celery closes it after an outage with tasks
    in flight: pools disconnected, the transport's client gone, deliveries unacknowledged.
    Stock kombu raises the AttributeError that killed the worker; ours leaves the messages to
    the visibility-timeout sweep."""
    from kombu import Connection

    server, url = start_redis()
    connection = Connection(url, transport=transport)
    try:
        channel = connection.channel()
        channel.qos._delivered["in-flight"] = None  # one unacknowledged delivery
        channel._disconnect_pools()
        channel.connection.client = None  # what closing the connection leaves behind
        if transport == "redis":
            with pytest.raises(AttributeError, match="hostname"):
                channel.qos.restore_unacked()
            channel.qos._delivered.clear()  # kombu's exit hook would raise it again
        else:
            channel.qos.restore_unacked()  # no error: restored later by the sweep
            assert not channel.qos._delivered
    finally:
        server.stop()


@pytest.mark.parametrize("transport", ["redis", "config.broker_transport:Transport"])
def test_a_task_finishing_after_its_connection_was_detached_is_acknowledged_not_fatal(transport):
    """A task that ends after the broker connection dropped and came back is acknowledged on
    the channel it came from, whose connection is detached by then.  Stock kombu raises the
    AttributeError ('client') that killed the worker; ours removes it from Redis's unacked
    indices through a client of its own, so the sweep does not run it a second time."""
    import redis as redis_client
    from kombu import Connection

    server, url = start_redis()
    connection = Connection(url, transport=transport)
    try:
        channel = connection.channel()
        qos = channel.qos
        store = redis_client.Redis.from_url(url)
        store.hset(qos.unacked_key, "finished", "{}")  # what a delivery leaves in Redis
        store.zadd(qos.unacked_index_key, {"finished": 1.0})
        qos._delivered["finished"] = None
        channel._disconnect_pools()
        channel.connection.client = None
        if transport == "redis":
            with pytest.raises(AttributeError, match=r"client|hostname"):
                qos.ack("finished")
        else:
            qos.ack("finished")
            assert store.hget(qos.unacked_key, "finished") is None
            assert store.zscore(qos.unacked_index_key, "finished") is None
            assert "finished" in qos._dirty  # kombu's record: acknowledged, to be flushed
        qos._delivered.clear()
    finally:
        server.stop()


def test_the_redis_broker_uses_the_outage_safe_transport(settings):
    from config.celery import app

    with app.connection_for_write() as connection:
        assert settings.CELERY_BROKER_URL.startswith(("redis://", "memory://", "amqp://"))
        if settings.CELERY_BROKER_URL.startswith("redis://"):
            assert type(connection.transport).__module__ == "config.broker_transport"


# --- Item 1, second line of defence: the supervised worker --------------------------------


def children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as handle:
        return [int(child) for child in handle.read().split()]


def test_the_supervisor_starts_a_killed_worker_again(test_database_url):
    redis_server, redis_url = start_redis()
    env = {**platform_env(test_database_url, redis_url), "PATH": os.environ["PATH"]}
    celery = [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "inference"]
    supervisor = ServerProcess(
        "supervise",
        [
            str(REPO_ROOT / "platform" / "supervise.sh"),
            *celery,
            "-n",
            "supervised@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        env,
    )
    app = Celery(broker=redis_url, backend=redis_url)

    def answers() -> bool:
        return bool(app.control.ping(timeout=0.5))

    try:
        supervisor.start(ready=answers, timeout=90)
        (first,) = children(supervisor.process.pid)
        os.kill(first, signal.SIGKILL)
        killed = time.monotonic()
        deadline = killed + 90
        answered = False  # by a new worker: the killed one was the only one
        while time.monotonic() < deadline and not answered:
            answered = children(supervisor.process.pid) not in ([], [first]) and answers()
            time.sleep(0 if answered else 0.2)
        # Judged on the reply seen in the loop: one more 0.5 s ping on a loaded machine can
        # miss its reply (CI once failed on exactly that, 5.7 s after the kill).
        assert answered, "no worker answered within 90 s of the SIGKILL"
        print(f"worker answering again {time.monotonic() - killed:.1f} s after SIGKILL")
        (second,) = children(supervisor.process.pid)
        assert second != first
        assert "exited with status 137" in supervisor.log_text()

        supervisor.stop(timeout=20)  # SIGTERM: the worker shuts down and is not restarted
        assert supervisor.process.returncode is not None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and os.path.exists(f"/proc/{second}"):
            time.sleep(0.2)
        assert not os.path.exists(f"/proc/{second}")
    finally:
        supervisor.stop(timeout=5)
        app.close()
        redis_server.stop()


# --- Item 2: a worker SIGKILLed with tasks in flight, on each supported broker -------------


@pytest.fixture(params=["redis", "rabbitmq"])
def two_workers(request: pytest.FixtureRequest, test_database_url: str) -> Iterator[Stack]:
    if request.param == "rabbitmq":
        services.require_installed(services.RABBITMQ)
    started = time.monotonic()
    stack = make_stack(
        test_database_url,
        request.param,
        CELERY_BROKER_VISIBILITY_TIMEOUT_SECONDS=str(VISIBILITY_TIMEOUT_S),
        CELERY_BROKER_RESTORE_INTERVAL_SECONDS="1",
    )
    print(f"{request.param} broker up in {time.monotonic() - started:.1f} s")
    try:
        stack.add_workers(2)
        stack.start_daphne()
        yield stack
    finally:
        stack.stop()


def test_a_sigkilled_workers_tasks_are_answered_by_the_other_worker(two_workers):
    key = ApiKey.issue(Customer.objects.create(name="Crash clinic"))[1]
    images = [radiograph_b64(seed) for seed in range(IN_FLIGHT)]
    (doomed, victim), (survivor, _) = two_workers.workers.items()

    futures = predictions_in_flight(two_workers.base_url, key, images)
    held = wait_for_active(two_workers, doomed)
    if two_workers.broker is None:
        # Redis hands a task over in two steps (BRPOP, then the unacked record): a worker
        # killed between them loses that one task for good (docs/platform.md).  Kill it once
        # every task has been handed over, as a crash at any other moment would find it.
        wait_for_empty_queue(two_workers.redis_url)
    victim.process.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    answers = [future.result() for future in futures]

    assert held >= 1
    assert [a.status for a in answers] == [200] * IN_FLIGHT
    assert all(a.seconds < REQUEST_TIMEOUT_S for a in answers), [a.seconds for a in answers]
    redelivered = max(a.finished_at for a in answers) - killed
    print(f"last answer {redelivered:.1f} s after the SIGKILL ({held} tasks held)")
    assert billable_events() == sum(a.billable for a in answers) == IN_FLIGHT
    assert UsageEvent.objects.count() == IN_FLIGHT
    assert two_workers.workers[survivor].process.poll() is None


def test_a_task_delivered_again_while_it_runs_is_billed_once(test_database_url):
    """A visibility timeout shorter than a task's run time hands the running task out again;
    the web tier settles each request once, on the first result.

    Whether a task is still unacknowledged when the 1 s sweep runs depends on how fast the
    worker gets through the ones before it, so the requests come in rounds of 4, 8 and 16
    (more waiting behind one thread each time) until a round has a task delivered twice: on
    a quiet machine four large images can all be done before the sweep comes round.
    """
    stack = make_stack(
        test_database_url,
        "redis",
        CELERY_BROKER_VISIBILITY_TIMEOUT_SECONDS="1",
        CELERY_BROKER_RESTORE_INTERVAL_SECONDS="1",
        # One thread reserving up to sixteen: the last ones wait, unacknowledged, past 1 s.
        CELERY_WORKER_CONCURRENCY="1",
        CELERY_WORKER_PREFETCH_MULTIPLIER="16",
    )
    answers: list[Answer] = []
    try:
        _, worker = stack.add_worker()
        stack.start_daphne()
        key = ApiKey.issue(Customer.objects.create(name="Twice clinic"))[1]
        dogs = [radiograph_b64(seed) for seed in range(4)]
        for count in (4, 8, 16):
            images = [dogs[index % len(dogs)] for index in range(count)]
            answers += [f.result() for f in predictions_in_flight(stack.base_url, key, images)]
            time.sleep(2.0)  # long enough for a duplicate still running to finish
            received = tasks_received(worker)
            if len(received) > len(set(received)):
                break
    finally:
        stack.stop()

    assert [a.status for a in answers] == [200] * len(answers)
    assert len(received) > len(set(received)), "no task was delivered twice"
    assert UsageEvent.objects.count() == len(answers)
    assert billable_events() == sum(a.billable for a in answers)


def test_a_task_delivered_again_finds_its_image_until_the_request_discards_it():
    (key,) = payloads.put_many([b"image bytes"], ttl_s=60)

    assert image_bytes({"image_ref": key}) == b"image bytes"  # the killed worker's read
    assert image_bytes({"image_ref": key}) == b"image bytes"  # the redelivered task's
    payloads.discard([key])
    with pytest.raises(payloads.PayloadMissing):
        image_bytes({"image_ref": key})


def test_broker_reachable_names_the_error_of_a_broker_that_is_down(settings):
    from inference.runtime.broker import broker_reachable

    server, url = start_redis()
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = url
    try:
        assert broker_reachable(timeout=2.0) == (True, None)
    finally:
        server.stop()
    started = time.monotonic()

    ok, error = broker_reachable(timeout=2.0)

    assert time.monotonic() - started < 5
    assert ok is False
    assert "Connection refused" in error or "111" in error, error
