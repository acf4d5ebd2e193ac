"""Item fields packed many at once are the bytes each row packed on its own makes."""

from __future__ import annotations

import numpy as np

from streamrec.checkpointing.item_packing import ItemArrays, pack_items, pack_neighbours
from streamrec.checkpointing.packing import pack, unpack
from streamrec.checkpointing.shared_fields import encode_items, encode_neighbours, split_shared
from streamrec.model.engine import Engine
from tests.states import DIM, apply, batch, config


def one_by_one(engine: Engine, rows: range) -> dict[str, bytes]:
    """Each row's field as ``pack`` makes it from the model's own row states."""
    items, signals = engine.items, engine.signals
    bases = [items.trending.t0, items.engagement.t0, *(t.t0 for t in signals.trends)]
    out = {}
    for row in rows:
        item_id, stats = items.item_state(row)
        arrays = {**{f"items.{k}": v for k, v in stats.items()}, **signals.item_state(row)}
        out[f"i{row}"] = pack({"id": item_id, "bases": bases}, arrays)
    return out


def test_rows_packed_together_are_the_bytes_of_rows_packed_alone() -> None:
    engine = Engine(DIM, config())
    rng = np.random.default_rng(4)
    for b in range(12):
        apply(engine, batch(rng, 30, users=40, items=80, start=b * 30))
    engine.items.row("never-engaged")  # an item with default signals: no values array
    rows = range(engine.items.n_items)
    alone = one_by_one(engine, rows)
    assert encode_items(engine.items, engine.signals, reversed(rows)) == alone
    state = engine.shared_state()
    assert {k: v for k, v in split_shared(state, 1).items() if k.startswith("i")} == alone
    lengths = {len(unpack(v)[1]["items.engagement"]) for v in alone.values()}
    assert len(lengths) > 2  # engagement columns of several lengths were packed
    assert any("values" not in unpack(v)[1] for v in alone.values())
    assert any("values" in unpack(v)[1] for v in alone.values())


def test_no_rows_and_no_clusters_pack_nothing_and_empty_columns() -> None:
    arrays = ItemArrays(
        ["a"],
        np.ones((1, 3), np.float32),
        np.ones(1, np.int32),
        np.zeros(1),
        np.zeros(1),
        np.zeros(1),
        np.zeros((0, 1)),
        [(np.zeros(1), 0.0)],
    )
    assert pack_items(arrays, [0.0], []) == {}
    (value,) = pack_items(arrays, [0.0], [0]).values()
    head, packed = unpack(value)
    assert head == {"id": "a", "bases": [0.0]} and packed["items.engagement"].size == 0
    assert "values" not in packed and packed["items.sums"].tolist() == [1.0, 1.0, 1.0]


def test_values_are_stored_when_any_differs_from_its_default() -> None:
    rng = np.random.default_rng(0)
    n = 6
    count = np.array([0.0, 2.0, 0.0, 1.0, 0.0, 3.0])
    first = np.array([-1.0, -1.0, 4.0, 2.0, -1.0, 1.0])
    trend = np.array([0.0, 0.0, 0.0, 0.5])  # shorter than the catalogue: default past it
    engagement = np.zeros((3, n))
    engagement[0, 1], engagement[2, 3] = 1.0, 2.0
    arrays = ItemArrays(
        [f"x{r}" for r in range(n)],
        rng.random((n, 4)).astype(np.float32),
        np.arange(n, dtype=np.int32),
        rng.random(n),
        rng.random(n),
        rng.random(n),
        engagement,
        [(count, 0.0), (first, -1.0), (trend, 0.0)],
    )
    packed = pack_items(arrays, [1.5, 2.5], range(n))
    for row in range(n):
        column = engagement[:, row]
        counted = np.flatnonzero(column)
        values = np.array([count[row], first[row], trend[row] if row < trend.size else 0.0])
        rows = {
            "items.sums": arrays.sums[row],
            "items.counts": arrays.counts[row : row + 1],
            "items.last_ts": arrays.last_ts[row : row + 1],
            "items.popularity": arrays.popularity[row : row + 1],
            "items.trending": arrays.trending[row : row + 1],
            "items.engagement": column[: counted[-1] + 1 if counted.size else 0],
        }
        if not np.array_equal(values, [0.0, -1.0, 0.0]):
            rows["values"] = values
        assert packed[f"i{row}"] == pack({"id": f"x{row}", "bases": [1.5, 2.5]}, rows), row
    assert "values" not in unpack(packed["i0"])[1] and "values" in unpack(packed["i2"])[1]


def test_neighbour_rows_packed_together_are_the_bytes_of_rows_packed_alone() -> None:
    engine = Engine(DIM, config())
    rng = np.random.default_rng(8)
    for b in range(12):
        apply(engine, batch(rng, 30, users=40, items=80, start=b * 30))
    signals = engine.signals
    signals.co.add(engine.items.n_items + 1, 0, 1.0)  # a row in one table only
    positions = (signals.co.positions(), signals.transitions.positions())
    rows = range(engine.items.n_items + 3)  # rows past the tables too
    alone = {}
    for row in rows:
        places, arrays = signals.neighbour_state(row, positions)
        if places != [-1, -1]:
            alone[f"n{row}"] = pack({"places": places}, arrays)
    assert encode_neighbours(signals, reversed(rows)) == alone
    state = engine.shared_state()
    stored = split_shared(state, 1, neighbour_rows=rows)
    assert {k: v for k, v in stored.items() if k.startswith("n")} == alone
    places = [unpack(v)[0]["places"] for v in alone.values()]
    assert any(-1 in p for p in places) and any(-1 not in p for p in places)
    empty = {"rows": [], "cols": [], "values": []}
    assert pack_neighbours({"co": empty, "transitions": empty}, rows) == {}
