"""What a batch publishes: cluster sizes."""

from __future__ import annotations

import numpy as np
import pytest

from streamrec.model.output import cluster_sizes
from streamrec.model.profiles import UserProfiles


@pytest.mark.parametrize("top_id", [0, 40, 10_000, 5_000_000])  # bins, then np.unique
def test_cluster_sizes_count_every_user_once_by_nearest_cluster(top_id: int) -> None:
    rng = np.random.default_rng(top_id)
    profiles = UserProfiles(dim=2, half_life=100.0)
    for n in range(500):
        profiles.row(f"u{n}")
    clusters = rng.integers(-1, top_id + 1, 500)  # -1: not placed yet
    profiles.cluster[:500] = clusters
    ids, counts = np.unique(clusters, return_counts=True)
    sizes = cluster_sizes(profiles)
    assert sizes == dict(zip(ids.tolist(), counts.tolist(), strict=True))
    assert list(sizes) == sorted(sizes) and sum(sizes.values()) == 500


def test_no_users_no_sizes() -> None:
    assert cluster_sizes(UserProfiles(dim=2, half_life=100.0)) == {}
