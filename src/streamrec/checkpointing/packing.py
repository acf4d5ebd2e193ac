"""One hash value: a JSON header, then numpy arrays as raw bytes (no npz per value).

Users of a partition and the shared model's item fields are written one Redis
hash field each, many per checkpoint, so each value is this compact format.

>>> head, arrays = unpack(pack({"id": "x"}, {"v": np.arange(3, dtype=np.int64)}))
>>> head, arrays["v"].tolist()
({'id': 'x'}, [0, 1, 2])
"""

from __future__ import annotations

import json
import math

import numpy as np

LAYOUTS_KEPT = 4096  # JSON of array layouts remembered (engagement columns vary in length)
_LAYOUTS: dict[tuple, str] = {}
_DTYPES: dict[str, np.dtype] = {}  # dtype strings of the arrays unpacked (a handful)


def pack(head: dict, arrays: dict[str, np.ndarray]) -> bytes:
    """A JSON header (``head`` and each array's name, dtype and shape under ``rows``), then
    the arrays' raw bytes."""
    if "rows" in head:
        raise ValueError("'rows' is the header's own key")
    rows = {k: _contiguous(np.asarray(v)) for k, v in arrays.items()}
    shapes = layout_json(tuple((k, r.dtype.str, r.shape) for k, r in rows.items()))
    # json.dumps({**head, "rows": ...}), without encoding the layout again
    encoded = json.dumps(head)[:-1] + (", " if head else "") + '"rows": ' + shapes + "}"
    return frame(encoded, b"".join(r.tobytes() for r in rows.values()))


def layout_json(layout: tuple) -> str:
    """The JSON of arrays' (name, dtype string, shape): a checkpoint packs thousands of
    values of a few layouts, each encoded once."""
    shapes = _LAYOUTS.get(layout)
    if shapes is None:
        if len(_LAYOUTS) >= LAYOUTS_KEPT:
            _LAYOUTS.clear()
        shapes = _LAYOUTS[layout] = json.dumps([[k, d, list(s)] for k, d, s in layout])
    return shapes


def frame(header: str, body: bytes) -> bytes:
    """A packed value: the header's length, the header (JSON text), the arrays' bytes."""
    encoded = header.encode()
    return len(encoded).to_bytes(4, "little") + encoded + body


def unpack(value: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    """The header and read-only arrays (views of ``value``) of a :func:`pack`.

    A restore unpacks one value per item, so the per-array work is kept small:
    the header decoded as text (``json`` skips its encoding check), dtypes
    looked up once, 1-d arrays not reshaped."""
    size = int.from_bytes(value[:4], "little")
    head, offset = json.loads(value[4 : 4 + size].decode()), 4 + size
    arrays = {}
    for name, dtype, shape in head.pop("rows"):
        kind = _DTYPES.get(dtype)
        if kind is None:
            kind = _DTYPES[dtype] = np.dtype(dtype)
        count = math.prod(shape)  # 1 for a scalar's []; math, not numpy: per item, it shows
        array = np.frombuffer(value, kind, count, offset)
        arrays[name] = array if len(shape) == 1 else array.reshape(shape)
        offset += count * kind.itemsize
    return head, arrays


def _contiguous(array: np.ndarray) -> np.ndarray:
    """C order for ``tobytes``; a 0-d array stays 0-d (``ascontiguousarray`` makes it 1-d)."""
    return array if array.flags.c_contiguous else np.ascontiguousarray(array)
