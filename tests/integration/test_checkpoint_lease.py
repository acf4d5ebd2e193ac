"""The group's checkpoint lease on the real Redis: one holder at a time, given back
only by its holder, gone after its expiry; a due checkpoint is put off while another
worker writes, a forced one waits for it (bounded), and nothing is lost or written
twice by either."""

from __future__ import annotations

import time

import numpy as np
import pytest

from streamrec.app import observability as obs
from streamrec.app.worker.commit import Checkpointer
from streamrec.app.worker.pacing import CheckpointPacing
from streamrec.app.worker.progress import Progress
from streamrec.checkpointing.dedup import DedupWindow
from streamrec.checkpointing.shared_fields import join_shared
from streamrec.model.engine import Engine
from streamrec.serving.schema import RedisKeys
from streamrec.serving.store import RecsStore, connect
from tests.states import DIM, apply, assert_same_state, batch, config

pytestmark = pytest.mark.integration


@pytest.fixture
def store(settings) -> RecsStore:  # type: ignore[no-untyped-def]
    return RecsStore(connect(settings), RedisKeys(settings.redis_prefix))


def worker(store: RecsStore, owned: set[int]) -> Checkpointer:
    progress = Progress(DedupWindow(100), owned=owned)
    checkpoints = Checkpointer("g", 3600.0, Engine(DIM, config()), store, progress, bool)
    checkpoints.restore()
    return checkpoints


def feed(engine: Engine, seed: int) -> None:
    apply(engine, batch(np.random.default_rng(seed), 30, users=40, items=80, start=100 * seed))


def test_one_holder_at_a_time_given_back_only_by_its_holder(store) -> None:  # type: ignore[no-untyped-def]
    assert store.take_lease("g", "a", 60)
    assert not store.take_lease("g", "b", 60)
    assert store.take_lease("g", "a", 60)  # its holder again (a retried write)
    store.drop_lease("g", "b")  # not b's to give back
    assert not store.take_lease("g", "b", 60)
    store.drop_lease("g", "a")
    assert store.take_lease("g", "b", 0.05)
    time.sleep(0.2)  # b crashed: its lease expires
    assert store.take_lease("g", "a", 60)
    store.drop_lease("g", "a")


def test_a_due_checkpoint_is_put_off_and_a_forced_one_waits_a_bounded_time(store) -> None:  # type: ignore[no-untyped-def]
    first, second = worker(store, {0}), worker(store, {1})
    feed(first.engine, 1)
    assert first.write(may_put_off=True)  # nobody holds the lease
    assert store.client.get(store.keys.merge_lease("g")) is None  # given back
    feed(second.engine, 2)
    before = store.load_shared_fields("g")
    assert store.take_lease("g", "someone else", 60)
    assert not second.write(may_put_off=True)  # put off: nothing written
    assert store.load_shared_fields("g") == before
    assert second.engine.dirty_items()  # still to be written
    second.lease_wait_s = 0.3
    began = time.monotonic()
    assert second.write()  # a forced write (shutdown, erasure) waits, then goes ahead
    assert time.monotonic() - began >= 0.3  # WATCH guards it
    assert second.merges == 1
    store.drop_lease("g", "someone else")
    feed(first.engine, 3)
    assert first.write(may_put_off=True)
    # both workers' changes are in Redis once: a worker restored from it equals both
    restored = worker(store, {0, 1})
    assert_same_state(restored.engine.shared_state(), first.engine.shared_state())
    assert join_shared(store.load_shared_fields("g")).version == 3


def test_a_checkpoint_is_put_off_by_at_most_one_interval(store, settings) -> None:  # type: ignore[no-untyped-def]
    from kafka import KafkaConsumer

    from streamrec.app import observability as obs

    writer = worker(store, {0})
    feed(writer.engine, 4)
    writer.progress.dirty = True
    servers = settings.kafka_bootstrap_servers.split(",")
    consumer = KafkaConsumer(bootstrap_servers=servers)  # nothing assigned: nothing to commit
    try:
        assert store.take_lease("g", "someone else", 60)
        put_off = obs.CHECKPOINTS_PUT_OFF._value.get()
        assert not writer.checkpoint(consumer, may_put_off=True)
        assert obs.CHECKPOINTS_PUT_OFF._value.get() == put_off + 1
        assert writer.progress.dirty and not store.load_shared_fields("g")
        writer._last -= 2 * writer.pacing.wait_s  # an interval past due: no longer put off
        assert writer.checkpoint(consumer, may_put_off=True)
        assert not writer.progress.dirty and store.load_shared_fields("g")
    finally:
        consumer.close()
        store.drop_lease("g", "someone else")


def test_a_forced_write_takes_the_lease_once_it_is_given_back(store) -> None:  # type: ignore[no-untyped-def]
    import threading

    writer = worker(store, {0})
    feed(writer.engine, 5)
    assert store.take_lease("g", "someone else", 60)
    timer = threading.Timer(0.3, lambda: store.drop_lease("g", "someone else"))
    timer.start()
    began = time.monotonic()
    assert writer.write()  # waits for the other's write rather than merging beside it
    assert 0.3 <= time.monotonic() - began < writer.lease_wait_s
    assert store.load_shared_fields("g")
    timer.join()


def test_the_wait_after_a_write_stretches_with_what_the_write_took(store) -> None:  # type: ignore[no-untyped-def]
    pacing = CheckpointPacing(interval_s=0.001, max_share=0.5, max_interval_s=60.0)
    progress = Progress(DedupWindow(100), owned={0})
    writer = Checkpointer("g", pacing, Engine(DIM, config()), store, progress, bool)
    writer.restore()
    feed(writer.engine, 1)
    began = time.monotonic()
    assert writer.write()
    took = time.monotonic() - began
    assert 0.001 < pacing.wait_s <= 2 * took  # half the time may go to checkpoints
    assert obs.CHECKPOINT_WAIT._value.get() == pacing.wait_s  # exported for dashboards
