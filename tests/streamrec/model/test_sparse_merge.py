"""The numpy merge of neighbour tables equals the rule written cell by cell in dicts."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from streamrec.model.sparse_merge import merge_tables
from streamrec.model.sparse_rows import SparseRows, _top


def dict_merge(base: dict, mine: dict, theirs: dict, rows: tuple, limit: int) -> dict:
    """``theirs + mine - base`` one cell at a time (what the merge did before numpy)."""

    def cells(table: dict, mapping: np.ndarray):
        for i, j, v in zip(
            mapping[np.asarray(table["rows"], dtype=np.int64)].tolist(),
            mapping[np.asarray(table["cols"], dtype=np.int64)].tolist(),
            np.asarray(table["values"]).tolist(),
            strict=True,
        ):
            if i >= 0 and j >= 0:
                yield (i, j), v

    change: dict[tuple[int, int], float] = {}
    for key, v in cells(base, rows[0]):
        change[key] = change.get(key, 0.0) - v
    for key, v in cells(mine, rows[1]):
        change[key] = change.get(key, 0.0) + v
    merged: dict[int, dict[int, float]] = defaultdict(dict)
    for (i, j), v in cells(theirs, rows[2]):
        merged[i][j] = v + change.pop((i, j), 0.0)
    for (i, j), v in change.items():
        merged[i][j] = v
    table = SparseRows(limit)
    for i, row in merged.items():
        kept = {j: v for j, v in row.items() if v > 1e-9}
        if kept:
            table._set_row(i, _top(kept, limit) if len(kept) > limit else kept)
    return table.state()


def grown(table: SparseRows, rng: np.random.Generator, adds: int, rows: int) -> SparseRows:
    out = SparseRows.from_state(table.state())
    for _ in range(adds):
        row = int(rng.integers(0, rows))
        out.add(row, int(rng.zipf(1.5) % rows), float(rng.choice([1.0, 0.5, rng.random()])))
    return out


def mapping(rng: np.random.Generator, n: int, size: int, drop: float) -> np.ndarray:
    out = rng.permutation(size)[:n].astype(np.int64)
    out[rng.random(n) < drop] = -1
    return out


def shuffled(state: dict, rng: np.random.Generator) -> dict:
    order = rng.permutation(len(state["rows"]))
    return {**{k: np.asarray(state[k])[order] for k in ("rows", "cols", "values")}, "limit": 4}


@pytest.mark.parametrize("seed", range(12))
def test_the_numpy_merge_equals_the_dict_rule_to_the_bit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    limit, rows = (4, 60) if seed % 2 else (64, 300)
    base = grown(SparseRows(limit), rng, 40 * rows, rows)
    mine = grown(base, rng, int(rng.integers(0, 5 * rows)), rows + 5)  # new items too
    theirs = grown(base, rng, int(rng.integers(0, 5 * rows)), rows + 3)
    states = [t.state() for t in (base, mine, theirs)]
    if seed % 3 == 0:
        identity = np.arange(rows + 5, dtype=np.int64)
        maps = (identity[:rows], identity, identity[: rows + 3])
    else:  # items dropped and rows moved, as a merge by item id does
        size = rows + 8
        maps = tuple(mapping(rng, n, size, 0.05) for n in (rows, rows + 5, rows + 3))
    if seed % 4 == 1:  # a state whose rows are not runs takes the keyed path everywhere
        states = [shuffled(s, rng) for s in states]
    fast = merge_tables(*states, maps, limit)
    slow = dict_merge(*states, maps, limit)
    for key in ("rows", "cols", "values"):
        assert np.asarray(fast[key]).tobytes() == np.asarray(slow[key]).tobytes(), key
    assert fast["limit"] == limit
    assert len(fast["rows"]) > 0


def test_rows_this_worker_left_alone_come_out_as_theirs() -> None:
    rng = np.random.default_rng(5)
    base = grown(SparseRows(8), rng, 2000, 50)
    theirs = grown(base, rng, 500, 50)
    identity = np.arange(50, dtype=np.int64)
    merged = merge_tables(base.state(), base.state(), theirs.state(), (identity,) * 3, 8)
    back = SparseRows.from_state(merged)
    want = {r: dict(list(c.items())) for r, c in theirs.rows.items()}
    cut = {r: (_top(c, 8) if len(c) > 8 else c) for r, c in want.items()}
    assert back.rows == cut


def test_empty_tables_merge_to_an_empty_one() -> None:
    empty = SparseRows(4).state()
    out = merge_tables(empty, empty, empty, (np.zeros(0, np.int64),) * 3, 4)
    assert len(out["rows"]) == len(out["cols"]) == len(out["values"]) == 0
