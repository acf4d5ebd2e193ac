import numpy as np

from streamrec.model.profiles import UserProfiles, VectorTable


def test_recent_updates_weigh_more() -> None:
    table = VectorTable(dim=2, half_life=1.0)
    table.update("u", np.array([1.0, 0.0]))
    table.update("u", np.array([0.0, 1.0]))
    vector = table.vector("u")
    assert vector is not None
    assert vector[1] > vector[0] > 0
    np.testing.assert_allclose(np.linalg.norm(vector), 1.0, rtol=1e-6)


def test_table_grows_and_state_round_trips() -> None:
    profiles = UserProfiles(dim=3, half_life=2.0, capacity=2)
    rng = np.random.default_rng(0)
    for i in range(50):
        row = profiles.update(f"u{i % 7}", rng.normal(size=3), ts=float(i))
        profiles.mark_seen(row, i % 5)
    profiles.assign(np.arange(7), np.tile([[1, 2]], (7, 1)), np.full((7, 2), 0.5))
    copy = UserProfiles(dim=3, half_life=2.0)
    copy.load(profiles.state())
    np.testing.assert_array_equal(copy.matrix(), profiles.matrix())
    assert copy.seen_items("u3").tolist() == profiles.seen_items("u3").tolist()
    assert copy.cluster[:7].tolist() == [1] * 7


def test_seen_items_are_unique() -> None:
    profiles = UserProfiles(dim=2, half_life=1.0)
    row = profiles.row("u")
    for item in (3, 3, 4):
        profiles.mark_seen(row, item)
    assert profiles.seen_items("u").tolist() == [3, 4]


def test_remove_forgets_everything_about_a_user() -> None:
    profiles = UserProfiles(dim=2, half_life=1.0)
    row = profiles.update("gone", np.array([1.0, 0.0]))
    profiles.mark_seen(row, 1)
    assert profiles.remove("gone")
    assert "gone" not in profiles
    assert profiles.ids[row] is None
    assert not profiles.sums[row].any()
    assert profiles.seen_items("gone").size == 0


def test_history_keeps_the_latest_items_only_and_restores_bounded() -> None:
    profiles = UserProfiles(dim=2, half_life=1.0, max_seen=3)
    row = profiles.row("u")
    for item in range(10):
        profiles.mark_seen(row, item)
    assert profiles.seen_items("u").tolist() == [7, 8, 9]
    wider = UserProfiles(dim=2, half_life=1.0, max_seen=10)
    wider.mark_seen(wider.row("u"), 0)
    for item in range(1, 10):
        wider.mark_seen(0, item)
    smaller = UserProfiles(dim=2, half_life=1.0, max_seen=2)
    smaller.load(wider.state())  # a checkpoint of a longer history is cut on restore
    assert smaller.seen_items("u").tolist() == [8, 9]
