"""Helpers for tests on the real servers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from kafka import KafkaConsumer

from streamrec.app.worker import EmbedWorker
from streamrec.core.events import ClickEvent, ReviewEvent
from streamrec.core.settings import Settings
from streamrec.kafka.clients import make_producer
from streamrec.kafka.producer import publish
from streamrec.kafka.topics import Topics, ensure_topics


def produce(settings: Settings, events: Sequence[ReviewEvent | ClickEvent]) -> None:
    ensure_topics(settings)
    producer = make_producer(settings)
    try:
        publish(producer, events, Topics.from_settings(settings))
    finally:
        producer.close()


def produce_raw(
    settings: Settings, topic: str, values: Sequence[bytes | None], key: bytes = b"k"
) -> None:
    ensure_topics(settings)
    producer = make_producer(settings)
    try:
        for value in values:
            producer.send(topic, key=key, value=value)
        producer.flush()
    finally:
        producer.close()


def wait_until(
    condition: Callable[[], object], timeout: float, what: str, every: float = 0.05
) -> None:
    """Poll ``condition`` until it holds; fail the test with ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting until {what}")
        time.sleep(every)


def join_all(threads: Sequence[threading.Thread], timeout: float) -> None:
    """Join threads within ``timeout`` s in all; fail the test if one is still running."""
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    alive = [t.name for t in threads if t.is_alive()]
    assert not alive, f"threads still running after {timeout} s: {alive}"


def run_worker(worker: EmbedWorker, timeout: float = 180.0, **options: object) -> None:
    """Run a worker until it has consumed everything, failing the test on a hang."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            worker.run(until_caught_up=True, **options)  # type: ignore[arg-type]
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        worker.stop()
        thread.join(30)
        raise TimeoutError("worker did not catch up in time")
    if errors:
        raise errors[0]


def read_topic(settings: Settings, topic: str, expected: int, timeout: float = 30.0) -> list:
    consumer = KafkaConsumer(
        topic,
        **settings.kafka_client_options(),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    records: list = []
    deadline = time.monotonic() + timeout
    try:
        while len(records) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
    finally:
        consumer.close()
    return records


def topics(settings: Settings) -> Topics:
    return Topics.from_settings(settings)
