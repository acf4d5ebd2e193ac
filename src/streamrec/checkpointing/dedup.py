"""The dedup window: recently seen event ids, so a redelivered event changes nothing.

Each entry keeps the event's user (for erasure) and partition (the window is
checkpointed per partition).

>>> window = DedupWindow(2)
>>> [window.add(e) for e in ["a", "b", "a", "c", "a"]]  # 'a' is forgotten by the end
[True, True, False, True, True]
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence


class DedupWindow:
    """The last ``size`` event ids seen, with their user and partition, oldest evicted first."""

    def __init__(self, size: int = 100_000, entries: Iterable[Sequence] = ()) -> None:
        self.size = size
        self._ids: OrderedDict[str, tuple[str, int]] = OrderedDict()
        self.extend(entries)

    def extend(self, entries: Iterable[Sequence]) -> None:
        for entry in entries:
            self.add(str(entry[0]), str(entry[1]), int(entry[2]) if len(entry) > 2 else -1)

    def add(self, event_id: str, owner: str = "", partition: int = -1) -> bool:
        """Record ``event_id``; False when it was already in the window."""
        if self.size <= 0:
            return True
        if event_id in self._ids:
            return False
        self._ids[event_id] = (owner, partition)
        while len(self._ids) > self.size:
            self._ids.popitem(last=False)
        return True

    def __contains__(self, event_id: str) -> bool:
        return event_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def forget_owner(self, owner: str) -> int:
        """Drop every entry of one user (for deletion requests)."""
        return self._drop(lambda value: value[0] == owner)

    def drop_partition(self, partition: int) -> int:
        return self._drop(lambda value: value[1] == partition)

    def _drop(self, doomed) -> int:  # type: ignore[no-untyped-def]
        gone = [i for i, value in self._ids.items() if doomed(value)]
        for event_id in gone:
            del self._ids[event_id]
        return len(gone)

    def entries(self, partition: int | None = None) -> list[list]:
        return [[i, o, p] for i, (o, p) in self._ids.items() if partition is None or p == partition]
