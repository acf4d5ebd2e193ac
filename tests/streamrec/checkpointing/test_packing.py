"""The hash-value format: a JSON header, then the arrays' raw bytes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from streamrec.checkpointing.packing import pack, unpack

CASES = [
    ({}, {}),
    ({"id": "x"}, {"v": np.arange(3, dtype=np.int64)}),
    (
        {"id": 'é"q\\', "bases": [1.5, 2.0, 1e300]},
        {
            "scalar": np.float64(3.0),
            "matrix": np.arange(6, dtype=np.float32).reshape(2, 3),
            "transposed": np.arange(6).reshape(2, 3).T,  # not C-contiguous
            "empty": np.zeros(0),
        },
    ),
    ({"seen": ["a", None, 3]}, {"z": np.zeros((0, 4))}),
]


def written_before(head: dict, arrays: dict[str, np.ndarray]) -> bytes:
    """The format as it has always been written (stored checkpoints hold it)."""
    rows = {k: np.ascontiguousarray(v) if np.ndim(v) else np.asarray(v) for k, v in arrays.items()}
    meta = {**head, "rows": [[k, r.dtype.str, list(r.shape)] for k, r in rows.items()]}
    encoded = json.dumps(meta).encode()
    body = b"".join(r.tobytes() for r in rows.values())
    return len(encoded).to_bytes(4, "little") + encoded + body


@pytest.mark.parametrize(("head", "arrays"), CASES)
def test_values_keep_their_bytes_and_round_trip(head: dict, arrays: dict) -> None:
    for _ in range(2):  # the second time the layout's JSON is remembered
        value = pack(head, arrays)
        assert value == written_before(head, arrays)
        back_head, back = unpack(value)
        assert back_head == head
        assert list(back) == list(arrays)
        for name, array in arrays.items():
            np.testing.assert_array_equal(back[name], array)
            assert back[name].dtype == np.asarray(array).dtype


def test_a_header_key_named_rows_is_refused() -> None:
    with pytest.raises(ValueError, match="rows"):
        pack({"rows": 1}, {})
