"""Turn public data sets and event files into StreamRec events in event-time order.

Amazon 5-core: each review becomes a :class:`ClickEvent` followed by a
:class:`ReviewEvent` with the same user, item and time. Amazon times are per
day, so ties are broken by the order of the lines in the file (a stable sort).

MovieLens: each rating becomes a click (rating kept) followed by a review
whose text is the movie's title and genres plus the user's tags for it.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from streamrec.core.events import (
    MAX_TEXT_CHARS,
    ClickEvent,
    InvalidEvent,
    ReviewEvent,
    parse_event,
)

AMAZON_FILE = "amazon-musical-instruments-5core/reviews_Musical_Instruments_5.json.gz"
MOVIELENS_FOLDER = "movielens-latest-small"
# src/streamrec/evaluation/datasets.py -> the checkout, so no default depends on the cwd
CHECKOUT = Path(__file__).resolve().parents[3]
AMAZON_VENDORED = CHECKOUT / "data/amazon/reviews_Musical_Instruments_5.json.gz"
DATA_DIR_ENV = "STREAMREC_DATA_DIR"


class DatasetMissing(FileNotFoundError):
    """A data set is not where it was looked for; the message says what to pass."""


def data_dirs(data_dir: Path | None = None) -> list[Path]:
    """Folders searched for data sets: ``data_dir`` (else ``STREAMREC_DATA_DIR``), then
    ``shared/datasets`` beside the checkout."""
    chosen = data_dir or (Path(os.environ[DATA_DIR_ENV]) if os.environ.get(DATA_DIR_ENV) else None)
    dirs = [chosen.expanduser().resolve()] if chosen else []
    return [*dirs, CHECKOUT.parent / "shared/datasets"]


def amazon_path(data_dir: Path | None = None) -> Path:
    """The Amazon file in the data folders, else the copy vendored in the checkout."""
    candidates = [d / AMAZON_FILE for d in data_dirs(data_dir)] + [AMAZON_VENDORED]
    for candidate in candidates:
        if candidate.exists():
            return candidate
    raise DatasetMissing(
        f"Amazon reviews not found (looked for {candidates[0]}); pass --path "
        f"reviews_Musical_Instruments_5.json.gz or set {DATA_DIR_ENV} to the folder holding "
        f"{AMAZON_FILE.split('/')[0]}/"
    )


def movielens_folder(data_dir: Path | None = None) -> Path:
    """The ml-latest-small folder in the data folders."""
    candidates = [d / MOVIELENS_FOLDER for d in data_dirs(data_dir)]
    for candidate in candidates:
        if (candidate / "ratings.csv").exists():
            return candidate
    raise DatasetMissing(
        f"MovieLens not found (looked for {candidates[0]}); pass --folder with the "
        f"ml-latest-small files or set {DATA_DIR_ENV} to the folder holding {MOVIELENS_FOLDER}/"
    )


def _require(path: Path, what: str, option: str) -> Path:
    if not path.exists():
        raise DatasetMissing(f"{what} not found: {path}; pass {option} with an existing one")
    return path


@dataclass(frozen=True)
class Interaction:
    """One user-item interaction with its text, as the data sets give it."""

    user_id: str
    item_id: str
    ts: float
    rating: float | None
    text: str
    key: str  # unique per interaction, the root of the event ids

    def events(self) -> list[ReviewEvent | ClickEvent]:
        click = ClickEvent(
            event_id=f"{self.key}:click", user_id=self.user_id, item_id=self.item_id, ts=self.ts
        )
        if not self.text.strip():
            return [click]
        review = ReviewEvent(
            event_id=f"{self.key}:review",
            user_id=self.user_id,
            item_id=self.item_id,
            text=self.text[:MAX_TEXT_CHARS],
            rating=self.rating,
            ts=self.ts,
        )
        return [click, review]


def _open_text(path: Path):  # type: ignore[no-untyped-def]
    return (
        gzip.open(path, "rt", encoding="utf-8")
        if path.suffix == ".gz"
        else open(path, encoding="utf-8")
    )


def amazon_interactions(path: Path | None = None, limit: int | None = None) -> list[Interaction]:
    """Amazon 5-core reviews in event-time order (file order within a day)."""
    path = _require(path, "Amazon reviews file", "--path") if path else amazon_path()
    out: list[Interaction] = []
    with _open_text(path) as lines:
        for number, line in enumerate(lines):
            row = json.loads(line)
            # the summary is the review's title; a review with an empty body keeps it
            parts = (row.get("summary", "").strip(), row.get("reviewText", "").strip())
            text = ". ".join(p for p in parts if p)
            out.append(
                Interaction(
                    user_id=row["reviewerID"],
                    item_id=row["asin"],
                    ts=float(row["unixReviewTime"]),
                    rating=float(row["overall"]),
                    text=text,
                    key=f"amz:{number}",
                )
            )
    out.sort(key=lambda i: i.ts)
    return out[:limit] if limit is not None else out


def movielens_interactions(
    folder: Path | None = None, limit: int | None = None
) -> list[Interaction]:
    """MovieLens ratings as interactions; text = title, genres and the user's tags."""
    folder = _require(folder, "MovieLens folder", "--folder") if folder else movielens_folder()
    for name in ("movies.csv", "tags.csv", "ratings.csv"):
        _require(folder / name, "MovieLens file", "--folder")
    titles: dict[str, str] = {}
    with open(folder / "movies.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            genres = row["genres"].replace("|", ", ")
            titles[row["movieId"]] = f"{row['title']}. {genres}"
    tags: dict[tuple[str, str], list[str]] = defaultdict(list)
    with open(folder / "tags.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            tags[(row["userId"], row["movieId"])].append(row["tag"])
    out: list[Interaction] = []
    with open(folder / "ratings.csv", encoding="utf-8") as handle:
        for number, row in enumerate(csv.DictReader(handle)):
            user, movie = row["userId"], row["movieId"]
            text = titles.get(movie, movie)
            if (user, movie) in tags:
                text += ". Tags: " + ", ".join(tags[(user, movie)])
            out.append(
                Interaction(
                    user_id=f"ml-u{user}",
                    item_id=f"ml-m{movie}",
                    ts=float(row["timestamp"]),
                    rating=float(row["rating"]),
                    text=text,
                    key=f"ml:{number}",
                )
            )
    out.sort(key=lambda i: i.ts)
    return out[:limit] if limit is not None else out


def load_interactions(
    dataset: str, limit: int | None = None, path: Path | None = None, data_dir: Path | None = None
) -> list[Interaction]:
    """``amazon`` or ``movielens`` by name, from ``path`` or else the data folders."""
    if dataset == "amazon":
        return amazon_interactions(path or amazon_path(data_dir), limit)
    if dataset == "movielens":
        return movielens_interactions(path or movielens_folder(data_dir), limit)
    raise ValueError(f"unknown data set {dataset!r} (amazon or movielens)")


def interactions_to_events(interactions: list[Interaction]) -> list[ReviewEvent | ClickEvent]:
    return [event for interaction in interactions for event in interaction.events()]


def read_event_file(path: Path) -> Iterator[tuple[int, ReviewEvent | ClickEvent | None, str]]:
    """Events of a JSON-lines file: (line number, event or None, error)."""
    with _open_text(path) as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                event = parse_event(line.encode())
            except InvalidEvent as error:
                yield number, None, error.reason
                continue
            if isinstance(event, ReviewEvent | ClickEvent):
                yield number, event, ""
            else:
                yield number, None, "impressions are produced by the system, not replayed"


def interactions_from_events(events: list[ReviewEvent | ClickEvent]) -> list[Interaction]:
    """Pair clicks and reviews of the same user, item and time into interactions.

    A review without a click still counts as an interaction; text and rating
    come from the review. Order: event time, then first appearance.
    """
    found: dict[tuple[str, str, float], dict] = {}
    for event in events:
        key = (event.user_id, event.item_id, event.ts)
        entry = found.setdefault(key, {"text": "", "rating": None, "key": event.event_id})
        if isinstance(event, ReviewEvent):
            entry["text"], entry["rating"] = event.text, event.rating
    out = [
        Interaction(
            user_id=u,
            item_id=i,
            ts=ts,
            rating=e["rating"],
            text=e["text"],
            key=e["key"].rsplit(":", 1)[0],
        )
        for (u, i, ts), e in found.items()
    ]
    out.sort(key=lambda i: i.ts)
    return out
