"""The API's pure pieces: the checkpoint snapshot (similar items, seen items, the map)
and the dashboard's sampler."""

import numpy as np

from streamrec.app.api.history import Sampler, rolling_arms
from streamrec.app.api.snapshot import build_snapshot
from streamrec.checkpointing.codec import PartitionCheckpoint


def shared(ids: list, vectors: list[list[float]]) -> dict:
    return {"items": {"vectors": {"ids": ids, "sums": np.array(vectors, dtype=np.float32)}}}


def users(ids: list[str], seen: list[list[str]], sums: np.ndarray, clusters: list[int]):
    return PartitionCheckpoint(
        users={
            "ids": ids,
            "seen_lengths": np.array([len(s) for s in seen]),
            "seen_items": [i for s in seen for i in s],
            "sums": sums,
            "cluster": np.array(clusters),
        }
    )


def test_similar_items_by_cosine_skip_removed_items_and_unknown_ones() -> None:
    snapshot = build_snapshot(
        shared(["a", None, "b", "c"], [[1, 0], [5, 5], [0.9, 0.1], [0, 3]]), []
    )
    similar = snapshot.similar("a", 5)
    assert [s["item_id"] for s in similar] == ["b"]  # c is orthogonal, the removed row gone
    assert similar[0]["similarity"] > 0.99
    assert snapshot.similar("zzz", 3) is None


def test_seen_items_and_map_points_come_from_every_partition() -> None:
    rng = np.random.default_rng(0)
    parts = [
        users(["u1", "u2"], [["a", "b"], []], rng.normal(size=(2, 8)), [0, 1]),
        users(["u3", "u4"], [["c"], ["a"]], rng.normal(size=(2, 8)), [1, 0]),
    ]
    snapshot = build_snapshot(None, parts)
    assert snapshot.seen == {"u1": ["a", "b"], "u2": [], "u3": ["c"], "u4": ["a"]}
    assert {p["user_id"] for p in snapshot.map_points} == {"u1", "u2", "u3", "u4"}
    assert {p["cluster"] for p in snapshot.map_points} == {0, 1}
    assert build_snapshot(None, []).map_points == []


def test_sampler_keeps_one_sample_per_interval() -> None:
    sampler = Sampler(min_interval_s=60)
    calls = []
    first = sampler.sample("s", lambda: calls.append(1) or {"v": 1})
    second = sampler.sample("s", lambda: calls.append(1) or {"v": 2})
    assert len(calls) == 1 and [s["v"] for s in second] == [1] == [s["v"] for s in first]
    assert Sampler(min_interval_s=0).sample("s", lambda: {"v": 3})[0]["v"] == 3


def test_rolling_arms_difference_the_cumulative_totals_over_the_window() -> None:
    def sample(t: float, impressions: int, clicked: int, ndcg: float) -> dict:
        arm = {"impressions": impressions, "clicked": clicked, "ndcg_sum": ndcg, "ndcg_sq": ndcg}
        return {"t": t, "experiments": {"e": {"arms": {"a": arm}}}}

    series = [sample(0, 100, 10, 5.0), sample(60, 300, 90, 45.0), sample(130, 400, 100, 50.0)]
    rolling = rolling_arms(series, window_s=100)["e"]["a"]
    assert [p["impressions"] for p in rolling] == [100, 300, 300]  # the last: since t=0
    assert rolling[1]["ctr"] == 0.3 and rolling[2]["ctr"] == 90 / 300
    low, high = rolling[2]["ctr_ci"]
    assert low < 0.3 < high
    assert rolling_arms([sample(0, 1, 0, 0.0), sample(200, 1, 0, 0.0)], 100) == {
        "e": {"a": [rolling_arms([sample(0, 1, 0, 0.0)], 100)["e"]["a"][0]]}
    }  # no new impressions in a window: no point
