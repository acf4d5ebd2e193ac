"""Engines fed with random traffic and exact comparisons of their states (checkpoint
tests: a restored engine must equal the one that never stopped, bit for bit)."""

from __future__ import annotations

import numpy as np

from streamrec.clustering.factory import ClustererConfig
from streamrec.core.events import ClickEvent, ReviewEvent
from streamrec.model.config import EngineConfig
from streamrec.model.engine import Engine
from streamrec.model.output import BatchOutput
from tests.doubles import HashingEmbedder

DIM = 32
EMBED = HashingEmbedder(DIM)


def config(**overrides: object) -> EngineConfig:
    """Clusters split and merge along the way (engagement rows move between clusters)."""
    clustering = ClustererConfig(
        clusterer="kmeans-dynamic", n_clusters=3, cluster_split_spread=0.35
    )
    values = {"n_clusters": 3, "cluster_refresh_events": 5, "clustering": clustering}
    return EngineConfig(**{**values, **overrides})  # type: ignore[arg-type]


def batch(
    rng: np.random.Generator, n: int, users: int, items: int, start: int
) -> list[ReviewEvent | ClickEvent]:
    """``n`` reviews, each followed by a click of the same user, on random items."""
    events: list[ReviewEvent | ClickEvent] = []
    for k in range(n):
        user, ts = f"u{rng.integers(users)}", float(start + k)
        events.append(
            ReviewEvent(
                event_id=f"r{start + k}",
                user_id=user,
                item_id=f"i{rng.integers(items)}",
                text=" ".join(f"w{w}" for w in rng.integers(40, size=3)),  # varied topics
                ts=ts,
            )
        )
        events.append(
            ClickEvent(
                event_id=f"c{start + k}", user_id=user, item_id=f"i{rng.integers(items)}", ts=ts
            )
        )
    return events


def apply(
    engine: Engine, events: list[ReviewEvent | ClickEvent], partitions: int = 2
) -> BatchOutput:
    texts = [e.text for e in events if isinstance(e, ReviewEvent)]
    parts = [int(e.user_id[1:]) % partitions for e in events]
    return engine.apply(events, EMBED.encode(texts), parts, outputs=False)


def assert_same_state(got: object, expected: object, path: str = "state") -> None:
    """Nested dicts, lists and arrays equal exactly: same keys in the same order, same
    dtypes and shapes, same values."""
    if isinstance(expected, dict):
        assert isinstance(got, dict) and list(got) == list(expected), path
        for key in expected:
            assert_same_state(got[key], expected[key], f"{path}.{key}")
    elif isinstance(expected, np.ndarray):
        got = np.asarray(got)
        assert (got.dtype, got.shape) == (expected.dtype, expected.shape), path
        np.testing.assert_array_equal(got, expected, err_msg=path)
    elif isinstance(expected, list | tuple):
        assert isinstance(got, list | tuple) and len(got) == len(expected), path
        for n, (a, b) in enumerate(zip(got, expected, strict=True)):
            assert_same_state(a, b, f"{path}[{n}]")
    else:
        assert got == expected, f"{path}: {got!r} != {expected!r}"
