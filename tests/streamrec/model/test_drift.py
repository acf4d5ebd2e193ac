"""A real shift in what people write: the clusters follow and ADWIN raises the alarm.

Slow: it embeds real reviews (the model loads unless the test cache holds them).
"""

from __future__ import annotations

import numpy as np
import pytest

from streamrec.clustering import OnlineKMeans
from streamrec.core.settings import DEFAULT_MODEL
from streamrec.core.text import clean_text
from streamrec.embedding.cache import CachedEmbedder
from streamrec.evaluation.datasets import amazon_interactions
from streamrec.model.drift import DriftMonitor
from tests.conftest import AMAZON

HALF_LIFE = 100

pytestmark = pytest.mark.slow


def two_halves(amazon_cache) -> tuple[np.ndarray, np.ndarray]:
    """Reviews of the items on either side of the first principal axis of item vectors."""
    interactions = [i for i in amazon_interactions(AMAZON, limit=600) if i.text.strip()]
    cache = CachedEmbedder(lambda: None, DEFAULT_MODEL, amazon_cache)  # type: ignore[arg-type]
    vectors = cache.encode([clean_text(i.text) for i in interactions])
    items = sorted({i.item_id for i in interactions})
    item_mean = np.vstack(
        [
            vectors[[n for n, i in enumerate(interactions) if i.item_id == item]].mean(axis=0)
            for item in items
        ]
    )
    centred = item_mean - item_mean.mean(axis=0)
    axis = np.linalg.svd(centred, full_matrices=False)[2][0]
    side = dict(zip(items, (centred @ axis) > np.median(centred @ axis), strict=True))
    first = np.array([side[i.item_id] for i in interactions])
    return vectors[first], vectors[~first]


def test_clusters_follow_a_shift_and_adwin_flags_it(amazon_cache) -> None:
    before, after = two_halves(amazon_cache)
    model = OnlineKMeans(k=4, half_life=HALF_LIFE, seed=0)
    monitor = DriftMonitor(delta=0.002)
    alarms_at: list[int] = []
    seen = 0

    def feed(points: np.ndarray) -> None:
        nonlocal seen
        for start in range(0, len(points), 10):
            batch = points[start : start + 10]
            ids = model.learn(batch)
            snapshot = model.snapshot()
            row_of = {int(c): n for n, c in enumerate(snapshot.ids)}
            rows = [row_of[int(i)] for i in ids]
            for point, row in zip(batch, rows, strict=True):
                seen += 1
                if monitor.update(1.0 - float(point @ snapshot.centroids[row])):
                    alarms_at.append(seen)

    def fit(points: np.ndarray) -> float:
        return float(np.max(points @ model.snapshot().centroids.T, axis=1).mean())

    feed(before)
    switch = seen
    fit_before = fit(before)
    fit_after_at_switch = fit(after)
    feed(after[: 3 * HALF_LIFE])
    fit_after = fit(after)

    assert fit_after_at_switch < fit_before  # the old clusters serve the new texts worse
    assert fit_after > fit_after_at_switch + 0.02  # ... and after three half-lives, better
    assert any(switch < at <= switch + 3 * HALF_LIFE for at in alarms_at), alarms_at
