import numpy as np

from streamrec.checkpointing.codec import PartitionCheckpoint, SharedCheckpoint, dumps, loads
from streamrec.checkpointing.dedup import DedupWindow


def test_nested_state_round_trips_without_pickle() -> None:
    state = {
        "a": np.arange(6, dtype=np.float32).reshape(2, 3),
        "ids": ["x", None],
        "n": {"deep": [np.int64(3), 2.5]},
        "big": 2**70,
    }
    back = loads(dumps(state))
    np.testing.assert_array_equal(back["a"], state["a"])
    assert back["ids"] == ["x", None]
    assert back["n"] == {"deep": [3, 2.5]}
    assert back["big"] == 2**70


def test_checkpoint_round_trip() -> None:
    part = PartitionCheckpoint({"ids": ["u"]}, {"t:0": 5}, [["e1", "u", 0], ["e2", "v", 0]])
    back = PartitionCheckpoint.from_bytes(part.to_bytes())
    assert back.offsets == {"t:0": 5} and back.dedup == [["e1", "u", 0], ["e2", "v", 0]]
    assert back.users == {"ids": ["u"]}
    shared = SharedCheckpoint.from_bytes(SharedCheckpoint({"k": np.ones(2)}, 4).to_bytes())
    assert shared.version == 4 and shared.state["k"].tolist() == [1.0, 1.0]


def test_dedup_window_is_bounded() -> None:
    window = DedupWindow(3)
    assert all(window.add(e) for e in "abcd")
    assert len(window) == 3 and "a" not in window
    assert not window.add("d")


def test_dedup_forgets_one_users_entries() -> None:
    window = DedupWindow(10)
    for event_id, user in [("e1", "u"), ("e2", "v"), ("e3", "u")]:
        window.add(event_id, user, partition=1 if user == "u" else 2)
    assert window.entries(partition=2) == [["e2", "v", 2]]
    assert window.forget_owner("u") == 2
    assert window.entries() == [["e2", "v", 2]]
    assert window.drop_partition(2) == 1 and len(window) == 0
