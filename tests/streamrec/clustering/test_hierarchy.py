"""The tree of interest groups over the clusters' centroids."""

import numpy as np
from scipy.cluster.hierarchy import linkage

from streamrec.clustering.hierarchy import Hierarchy, render, weighted_ward


def unit_rows(n: int, dim: int = 6, seed: int = 0) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(n, dim))
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_equal_weights_give_scipys_ward_tree() -> None:
    points = unit_rows(15)
    ours, scipys = weighted_ward(points, np.ones(15)), linkage(points, "ward")
    np.testing.assert_allclose(ours[:, 2], scipys[:, 2], atol=1e-9)
    np.testing.assert_array_equal(np.sort(ours[:, :2], axis=1), np.sort(scipys[:, :2], axis=1))
    np.testing.assert_array_equal(ours[:, 3], scipys[:, 3])


def test_weight_decides_which_cluster_a_middle_one_joins() -> None:
    # b sits between a and c, closer to c: with equal weights b joins c, but Ward's cost
    # of merging two heavy clusters (b and c) exceeds that of a light a joining b
    a, b, c = np.array([1.0, 0.0]), np.array([0.6, 0.8]), np.array([0.0, 1.0])
    centroids, ids = np.vstack([a, b, c]), np.array([10, 11, 12])
    light = Hierarchy.build(ids, centroids, np.array([1.0, 1.0, 1.0]), 2)
    heavy = Hierarchy.build(ids, centroids, np.array([1.0, 50.0, 50.0]), 2)
    assert light.groups == {10: 10, 11: 11, 12: 11}
    assert heavy.groups == {10: 10, 11: 10, 12: 12}
    assert heavy.linkage[-1, 3] == 3  # the root holds every cluster


def test_groups_are_named_by_their_smallest_cluster_and_survive_a_checkpoint() -> None:
    ids = np.array([40, 3, 17, 8, 25, 11])
    tree = Hierarchy.build(ids, unit_rows(6), np.arange(1.0, 7.0), n_groups=3)
    assert len(tree.group_ids()) == 3
    for group in tree.group_ids():
        assert group == min(tree.members(group))
    again = Hierarchy.from_state(tree.state(), n_groups=3)
    assert again.groups == tree.groups
    assert sorted(c for g in tree.group_ids() for c in tree.members(g)) == sorted(ids.tolist())


def test_small_trees_and_the_text_view() -> None:
    assert Hierarchy.build(np.zeros(0), np.zeros((0, 3)), np.zeros(0), 4).groups == {}
    assert Hierarchy.build(np.array([5]), unit_rows(1), np.ones(1), 4).groups == {5: 5}
    tree = Hierarchy.build(np.array([1, 2, 3]), unit_rows(3), np.ones(3), 2)
    lines = render(tree, {1: ["strings", "bright"], 2: ["pedal"]})
    assert sum(line.startswith("group ") for line in lines) == 2
    leaves = [line for line in lines if "- cluster" in line]
    assert len(leaves) == 3 and any("strings, bright" in line for line in leaves)
    assert render(Hierarchy()) == []
