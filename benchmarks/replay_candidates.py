"""`streamrec replay` with the candidate set cut to C, to measure two-stage serving on a
catalogue smaller than the default C (Amazon has 900 items; the replay builds its
engines with the default EngineConfig, which does not read settings).

    python benchmarks/replay_candidates.py 200 /tmp/amazon-c200 [--data amazon]
"""

from __future__ import annotations

import sys

import streamrec.model.candidates as candidates
from streamrec.cli import main

_original = candidates.CandidateGenerator.__init__


def run(size: int, out: str, data: str = "amazon") -> None:
    def init(self, dim: int, _size: int = 1000, exact_below: int = 5000) -> None:  # type: ignore[no-untyped-def]
        _original(self, dim, size, exact_below)

    candidates.CandidateGenerator.__init__ = init  # type: ignore[method-assign]
    sys.argv = ["streamrec", "replay", "--data", data, "--out", out]
    main()


if __name__ == "__main__":
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    run(int(sys.argv[1]), sys.argv[2], *(sys.argv[4:5] if "--data" in sys.argv else []))
