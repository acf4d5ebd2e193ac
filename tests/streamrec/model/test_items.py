import numpy as np

from streamrec.core.arrays import unit_rows
from streamrec.model.items import ItemStats


def _catalogue(n: int, dim: int = 8) -> ItemStats:
    items = ItemStats(dim)
    rng = np.random.default_rng(0)
    for row in range(n):
        items.add_text(items.row(f"i{row}"), rng.standard_normal(dim).astype(np.float32))
    return items


def test_a_load_normalises_again_only_the_rows_whose_item_or_sum_changed() -> None:
    items = _catalogue(40)
    state = items.state()
    state["vectors"]["sums"][3] += 1.0  # changed: normalised again
    state["vectors"]["ids"][20], state["vectors"]["ids"][21] = "i21", "i20"  # rows swapped
    state["vectors"]["ids"].append("i40")  # a new row
    state["vectors"]["sums"] = np.vstack([state["vectors"]["sums"], np.ones((1, 8), np.float32)])
    for key in ("counts", "last_ts", "popularity"):
        target = state["vectors"] if key != "popularity" else state
        target[key] = np.append(target[key], 1)
    items.unit[10] = 7.0  # a marker: row 10 is unchanged, so its unit row is kept as it is
    renewed = items.load(state)
    assert renewed.tolist() == [3]  # rows 20 and 21 swapped items, not vectors
    assert items.unit[10].tolist() == [7.0] * 8
    fresh = ItemStats(8)
    fresh.load(state)
    expected = unit_rows(np.asarray(state["vectors"]["sums"], dtype=np.float32))
    assert fresh.unit_matrix().tobytes() == expected.tobytes()
    again = np.delete(np.arange(41), 10)
    assert items.unit_matrix()[again].tobytes() == expected[again].tobytes()
