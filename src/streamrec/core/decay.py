"""Exponential forgetting with half-lives, and forward-decayed counters.

:func:`decay` is the one forgetting formula of StreamRec: after ``elapsed``
clock units a weight is multiplied by ``2 ** (-elapsed / half_life)``.
Profiles, item counts, clusters, the ranker's signals and the merge of
several workers all forget through it.

>>> decay(10.0, half_life=10.0), decay(0.0, half_life=10.0)
(0.5, 1.0)

A forward-decayed counter stores ``value * 2 ** ((t - t0) / half_life)`` so an
update touches one cell instead of decaying the whole table: the true value at
clock ``t`` is the stored one times ``2 ** (-(t - t0) / half_life)``. The base
``t0`` moves forward before the stored numbers could overflow.

>>> counter = DecayedCounts(half_life=10.0, capacity=2)
>>> counter.add(np.array([0]), np.array([1.0]), t=0.0)
>>> counter.add(np.array([1]), np.array([1.0]), t=10.0)
>>> counter.values(t=10.0).round(6).tolist()
[0.5, 1.0]
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np

REBASE_AT = 300.0  # halvings; 2**300 stays far inside float64


Elapsed = TypeVar("Elapsed", float, np.ndarray)


def decay(elapsed: Elapsed, half_life: float) -> Elapsed:
    """The multiplier that ``elapsed`` clock units of forgetting apply (scalar or array)."""
    return 2.0 ** (-elapsed / half_life)


class DecayedCounts:
    """A growable vector of counts that halve every ``half_life`` clock units."""

    def __init__(self, half_life: float, capacity: int = 64, rows: int | None = None) -> None:
        self.half_life = float(half_life)
        shape = (capacity,) if rows is None else (rows, capacity)
        self.stored = np.zeros(shape, dtype=np.float64)
        self.t0 = 0.0

    @property
    def size(self) -> int:
        return self.stored.shape[-1]

    def ensure(self, columns: int, rows: int | None = None) -> None:
        """Grow (doubling) so that ``columns`` and ``rows`` fit."""
        new_cols = self.size
        while new_cols < columns:
            new_cols *= 2
        if self.stored.ndim == 1:
            if new_cols != self.size:
                grown = np.zeros(new_cols)
                grown[: self.size] = self.stored
                self.stored = grown
            return
        new_rows = self.stored.shape[0]
        while rows is not None and new_rows < rows:
            new_rows = max(1, new_rows * 2)
        if (new_rows, new_cols) != self.stored.shape:
            grown = np.zeros((new_rows, new_cols))
            grown[: self.stored.shape[0], : self.size] = self.stored
            self.stored = grown

    def _scale(self, t: float) -> float:
        exponent = (t - self.t0) / self.half_life
        if exponent > REBASE_AT:
            self.stored *= rebase_factor(self.t0, t, self.half_life)
            self.t0 = t
            exponent = 0.0
        return float(2.0**exponent)

    def add(self, index: np.ndarray | tuple, weights: np.ndarray, t: float) -> None:
        """Add ``weights`` at ``index`` (unbuffered, repeats accumulate) at clock ``t``."""
        np.add.at(self.stored, index, np.asarray(weights, dtype=np.float64) * self._scale(t))

    def add_one(self, index: int | tuple[int, int], weight: float, t: float) -> None:
        """:meth:`add` of one weight (the same sum, without the arrays ``np.add.at`` needs)."""
        scaled = weight * self._scale(t)  # first: a rebase rescales what is stored
        self.stored[index] += scaled

    def values(self, t: float, row: int | None = None) -> np.ndarray:
        """The decayed values at clock ``t`` (a new array), of one ``row`` if given."""
        stored = self.stored if row is None else self.stored[row]
        return stored * decay(t - self.t0, self.half_life)

    def state(self) -> dict[str, np.ndarray | float]:
        return {"stored": self.stored, "t0": self.t0, "half_life": self.half_life}

    @classmethod
    def from_state(cls, state: dict) -> DecayedCounts:
        counts = cls(float(state["half_life"]))
        counts.stored = np.array(state["stored"], dtype=np.float64)
        counts.t0 = float(state["t0"])
        return counts


def rebase_factor(before: float, after: float, half_life: float) -> float:
    """What a rebase from base ``before`` to ``after`` multiplies every stored value by:
    the one expression of the live counters, the merge and the readers that catch up
    item fields written against an older base, so all three get the same bits."""
    return 2.0 ** (-((after - before) / half_life))


def merged_base(t0: float, clock: float, half_life: float) -> float:
    """The base a merged counter is stored against: theirs' ``t0``, moved to the merged
    ``clock`` once it is ``REBASE_AT`` half-lives old, as a live counter moves it.

    Without the move, a group whose every write is a merge keeps the first base for
    ever (each merge keeps theirs'), and the stored values, which grow as
    ``2 ** ((clock - t0) / half_life)``, overflow after 1,024 half-lives.
    """
    return float(clock) if (clock - t0) / half_life > REBASE_AT else t0


def merged_stored(
    stored: tuple[np.ndarray | float, np.ndarray | float, np.ndarray | float],
    bases: tuple[float, float, float],
    *,
    grown: float,
    half_life: float,
    size: int,
    out_base: float | None = None,
) -> np.ndarray:
    """A forward-decayed counter's merged values, stored against theirs' base ``t0``
    (or ``out_base``: the merge's :func:`merged_base`).

    ``stored`` and ``bases`` are base's, mine's and theirs' stored values and
    bases; ``grown`` is how far theirs' clock moved since base. Theirs' values
    are decayed by the events this worker saw, and this worker's change since
    base is taken as of now, so against theirs' base

        S = S_theirs + S_mine * 2^((grown + t0_mine - t0) / h)
                     - S_base * 2^((grown + t0_base - t0) / h)

    and against a moved base ``t0'`` the same with ``t0'`` for ``t0`` and theirs'
    values times :func:`rebase_factor` (what a reader of theirs' fields applies).
    An item this worker did not change keeps theirs' stored value (so rebased)
    to the bit, so its checkpoint field is not rewritten: base's values are taken
    to this worker's base with the factor its own rebase applied
    (:func:`rebase_factor`), so the change is 0 exactly where it changed nothing
    (after more than one rebase of its own, nearly 0: rewritten, not wrong).
    """
    b, lo, c = stored
    t0_base, t0_mine, t0 = bases
    out_base = t0 if out_base is None else out_base
    if out_base != t0:
        c = np.asarray(c) * rebase_factor(t0, out_base, half_life)
    mine_scale = 2.0 ** ((grown + t0_mine - out_base) / half_life)
    at_base = np.asarray(b)
    if t0_mine != t0_base:  # this worker's counter rebased since: base's values as it did
        at_base = at_base * rebase_factor(t0_base, t0_mine, half_life)
    # exactly 0 where this worker changed nothing (after one rebase of its own too)
    change = (np.asarray(lo) - at_base) * mine_scale
    return np.clip(np.broadcast_to(c + change, (size,)), 0, None)
