"""The ranker's features: the compiled columns against the numpy ones, to the bit."""

from __future__ import annotations

import numpy as np
import pytest

from streamrec.core.events import ClickEvent, ReviewEvent
from streamrec.model import features as features_module
from streamrec.model import kernels
from streamrec.model.config import EngineConfig
from streamrec.model.engine import Engine
from streamrec.model.features import FEATURES, features


def busy_engine(seed: int, n_items: int = 300, n_users: int = 40) -> Engine:
    """An engine after a few hundred reviews and clicks: trends decayed, co-occurrence
    and transitions filled, users with histories of different lengths."""
    rng = np.random.default_rng(seed)
    engine = Engine(dim=8, config=EngineConfig(n_clusters=3, candidates=64, seed=seed))
    for batch in range(12):
        events: list[ReviewEvent | ClickEvent] = []
        for n in range(40):
            user = f"u{int(rng.integers(0, n_users))}"
            item = f"i{int(rng.zipf(1.3)) % n_items}"
            ts = batch * 40 + n
            if rng.random() < 0.5:
                review = ReviewEvent(event_id=f"r{ts}", user_id=user, item_id=item, text="t", ts=ts)
                events.append(review)
            else:
                events.append(ClickEvent(event_id=f"c{ts}", user_id=user, item_id=item, ts=ts))
        reviews = sum(isinstance(e, ReviewEvent) for e in events)
        vectors = rng.standard_normal((reviews, 8)).astype(np.float32)
        engine.apply(events, vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
    return engine


def numpy_features(engine: Engine, user_id: str | None, rows, monkeypatch) -> np.ndarray:
    with monkeypatch.context() as patch:
        patch.setattr(features_module, "COMPILED", False)
        return features(engine, user_id, rows)


@pytest.mark.parametrize("seed", range(3))
def test_compiled_features_equal_the_numpy_path_to_the_bit(seed: int, monkeypatch) -> None:
    assert kernels.COMPILED  # numba is a dependency: the worker runs the compiled columns
    engine = busy_engine(seed)
    n = engine.items.n_items
    rng = np.random.default_rng(seed)
    users = [*sorted(engine.profiles.index)[:25], None, "nobody"]
    checked = 0
    for user in users:
        sorted_rows = np.sort(rng.choice(n, 50, replace=False))  # read in one sweep
        repeated = np.sort(rng.integers(0, n, 30))  # sorted, with repeats
        for rows in (None, sorted_rows, repeated, rng.integers(0, n, 11)):
            compiled = features(engine, user, rows)
            expected = numpy_features(engine, user, rows, monkeypatch)
            assert compiled.shape == expected.shape == (n if rows is None else rows.size, 16)
            assert compiled.tobytes() == expected.tobytes(), (user, rows)
            checked += int(np.count_nonzero(compiled[:, [5, 6, 7, 13, 14]]))
    assert checked > 0  # the history columns were exercised, not only zeros


def test_columns_past_the_model_s_items_are_cut_alike(monkeypatch) -> None:
    """Signals may hold columns beyond the items a model reads (``size``)."""
    engine = busy_engine(7)
    signals = engine.signals
    user = max(engine.profiles.index, key=lambda u: engine.profiles.seen_items(u).size)
    seen = engine.profiles.seen_items(user).tolist()
    sums = signals.history_sums(seen)
    size = int(np.median(sums.cols))  # about half the kNN columns lie past it
    rows = np.arange(size)
    compiled = features_module._compiled_columns(signals, seen, rows, size)
    expected = np.zeros((size, len(FEATURES)))
    features_module._item_columns(signals, rows, expected)
    features_module._history_features(signals, seen, rows, size, expected)
    assert compiled.tobytes() == expected.tobytes()
    assert np.count_nonzero(compiled[:, 5]) > 0
