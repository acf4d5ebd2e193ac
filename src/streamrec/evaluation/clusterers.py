"""The clusterers side by side on one replay: clusters found, labels, balance, NDCG@10.

Each clusterer (``STREAMREC_CLUSTERER``) drives its own engine, which learns in
the worker's micro-batches (``batch_reviews`` reviews; dynamic k splits only
on a batch of points) and is scored serve-then-observe by
:func:`streamrec.evaluation.replay.replay` with its ``user`` and ``cluster``
strategies, between batches (what a user would be served while the worker
collects the next batch).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from streamrec.clustering.hierarchy import Hierarchy
from streamrec.evaluation.datasets import Interaction
from streamrec.evaluation.metrics import metrics_from_rank
from streamrec.evaluation.plots import dendrogram
from streamrec.evaluation.replay import EngineModel, replay
from streamrec.evaluation.uncertainty import UserSample
from streamrec.model.config import EngineConfig
from streamrec.model.engine import Engine
from streamrec.model.output import cluster_sizes

STRATEGIES = ("user", "cluster")


class BatchedEngineModel(EngineModel):
    """An engine fed in micro-batches of ``batch_reviews`` reviews, as the worker feeds it."""

    def __init__(self, engine: Engine, names: Sequence[str], prefix: str, batch_reviews: int):
        super().__init__(engine, names, prefix=prefix)
        self.batch_reviews = batch_reviews
        self.lifecycle: Counter[str] = Counter()
        self.cluster_counts: list[int] = []
        self._events: list = []
        self._vectors: list[np.ndarray] = []

    def observe(self, interaction: Interaction, vector: np.ndarray | None) -> None:
        events = interaction.events()
        self._events.extend(events)
        if vector is not None and len(events) == 2:
            self._vectors.append(vector)
        if len(self._vectors) >= self.batch_reviews:
            self.flush()

    def flush(self) -> None:
        if not self._events:
            return
        matrix = np.array(self._vectors, dtype=np.float32).reshape(-1, self.engine.dim)
        out = self.engine.apply(self._events, matrix, outputs=False)
        self.lifecycle.update(e.kind for e in out.lifecycle)
        self.cluster_counts.append(len(self.engine.clusterer.snapshot()))
        self.delivered += len(self._events)
        self._events, self._vectors = [], []


def balance(sizes: Sequence[int]) -> dict[str, float]:
    """How evenly users spread: normalised entropy (1: even), Gini (0: even), largest share."""
    counts = np.asarray([s for s in sizes if s > 0], dtype=np.float64)
    if len(counts) == 0:
        return {"entropy": 0.0, "gini": 0.0, "largest_share": 0.0}
    share = counts / counts.sum()
    entropy = float(-(share * np.log(share)).sum() / np.log(len(share))) if len(share) > 1 else 0.0
    ordered = np.sort(counts)
    n = len(ordered)
    gini = float((2 * np.arange(1, n + 1) - n - 1) @ ordered / (n * ordered.sum()))
    return {"entropy": entropy, "gini": gini, "largest_share": float(share.max())}


def label_stats(engine: Engine, top: int = 5, shown: int = 8) -> dict:
    """Top words of the largest clusters, and how distinct the labels are across clusters
    (share of top words used by one cluster only: 1 means no two clusters share a word)."""
    labels = engine.labeler.labels(top)
    sizes = cluster_sizes(engine.profiles)
    live = [int(c) for c in engine.clusterer.snapshot().ids]
    words = Counter(w for c in live for w in labels.get(c, []))
    distinct = sum(1 for count in words.values() if count == 1) / max(1, len(words))
    biggest = sorted(live, key=lambda c: -sizes.get(c, 0))[:shown]
    return {
        "distinct_words": distinct,
        "largest": [
            {"cluster": c, "users": sizes.get(c, 0), "words": labels.get(c, [])} for c in biggest
        ],
    }


def final_tree(engine: Engine) -> Hierarchy:
    """The group tree over the clusters as they end (a replay without outputs rebuilds it
    only when the set of clusters changes)."""
    snapshot = engine.clusterer.snapshot()
    return Hierarchy.build(
        snapshot.ids, snapshot.centroids, snapshot.weights, engine.config.cluster_groups
    )


def group_stats(engine: Engine, top: int = 6) -> list[dict]:
    """Each parent group of the final tree: its clusters, users and most common label words."""
    tree, sizes, labels = (
        final_tree(engine),
        cluster_sizes(engine.profiles),
        engine.labeler.labels(),
    )
    out = []
    for group in tree.group_ids():
        members = tree.members(group)
        words: Counter[str] = Counter()
        for cluster in members:
            for word in labels.get(cluster, [])[:5]:
                words[word] += sizes.get(cluster, 0)
        out.append(
            {
                "group": group,
                "clusters": sorted(members),
                "users": sum(sizes.get(c, 0) for c in members),
                "words": [w for w, _ in words.most_common(top)],
            }
        )
    return out


def _draw_tree(engine: Engine, path: Path) -> None:
    tree = final_tree(engine)
    if not 2 <= len(tree.ids) <= 40:
        return
    labels = engine.labeler.labels(3)
    dendrogram(tree.linkage, [f"{c}: {', '.join(labels.get(c, []))}" for c in tree.ids], path)


def compare_clusterers(
    interactions: Sequence[Interaction],
    vectors: Sequence[np.ndarray | None],
    dim: int,
    kinds: dict[str, EngineConfig],
    batch_reviews: int = 64,
    resamples: int = 1000,
    progress: bool = False,
    plots: Path | None = None,
) -> dict:
    """Replay once with one engine per configuration (named in ``kinds``); the figures of
    each (JSON-ready). With ``plots``, a dendrogram of each final group tree of at most
    40 clusters goes there."""
    models = {
        name: BatchedEngineModel(Engine(dim, config), STRATEGIES, f"{name}:", batch_reviews)
        for name, config in kinds.items()
    }
    last = len(interactions) - 1

    def flush_at_end(n: int) -> None:
        if n == last:
            for model in models.values():
                model.flush()

    result = replay(
        interactions, vectors, list(models.values()), progress=progress, on_step=flush_at_end
    )
    mask = result.mask("evaluation")
    users = [u for u, keep in zip(result.users, mask, strict=True) if keep]
    scored = {
        name: np.array([metrics_from_rank(r)["ndcg@10"] for r in ranks])[mask]
        for name, ranks in result.ranks.items()
    }
    sample = UserSample.of(users, scored)
    summary = result.summary("evaluation")
    if plots is not None:
        for name, model in models.items():
            slug = "".join(c if c.isalnum() else "-" for c in name)
            _draw_tree(model.engine, plots / f"groups-{slug}.png")
    return {
        "interactions": len(interactions),
        "scored": int(mask.sum()),
        "batch_reviews": batch_reviews,
        "clusterers": {
            name: _figures(name, model, summary, sample, resamples)
            for name, model in models.items()
        },
    }


def _figures(
    name: str, model: BatchedEngineModel, summary: dict, sample: UserSample, resamples: int
) -> dict:
    engine = model.engine
    counts = model.cluster_counts or [0]
    sizes = cluster_sizes(engine.profiles)
    live = engine.clusterer.snapshot().ids.tolist()
    figures: dict = {
        "clusterer": engine.config.clustering.clusterer,
        "k_start": engine.config.n_clusters,
        "clusters_final": len(live),
        "clusters_mean": float(np.mean(counts)),
        "clusters_range": [int(min(counts)), int(max(counts))],
        "lifecycle": dict(model.lifecycle),
        "groups": group_stats(engine),
        "balance": balance([sizes.get(c, 0) for c in live]),
        "labels": label_stats(engine),
    }
    for strategy in STRATEGIES:
        key = f"{name}:{strategy}"
        low, high = sample.mean_ci(key, resamples)
        figures[strategy] = {
            "ndcg@10": summary[key]["ndcg@10"],
            "ndcg@10_ci": [low, high],
            "hit@10": summary[key]["hit@10"],
        }
    return figures


def markdown(payload: dict, title: str, command: str) -> str:
    """The report: one table of figures, then the largest clusters' top words per clusterer."""
    lines = [
        f"# Clusterers compared: {title}",
        "",
        f"{payload['interactions']:,} interactions, {payload['scored']:,} scored after the "
        f"tuning slice; engines learn in micro-batches of {payload['batch_reviews']} reviews. "
        "NDCG@10 with 95% bootstrap intervals (users resampled). Balance: normalised entropy "
        "of users per cluster (1 = even), Gini (0 = even), largest cluster's share of users. "
        "Distinct words: share of top-5 label words used by one cluster only.",
        "",
        f"Reproduce: `{command}`",
        "",
        "| clusterer | clusters (final / mean / range) | born, split, merged, died | groups "
        "| entropy | Gini | largest | distinct words | NDCG@10 `user` | NDCG@10 `cluster` |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, f in payload["clusterers"].items():
        life = f["lifecycle"]
        events = ", ".join(str(life.get(k, 0)) for k in ("born", "split", "merged", "died"))
        b = f["balance"]
        cells = [
            f"`{name}`",
            f"{f['clusters_final']} / {f['clusters_mean']:.1f} / "
            f"{f['clusters_range'][0]}-{f['clusters_range'][1]}",
            events,
            str(len(f["groups"])),
            f"{b['entropy']:.3f}",
            f"{b['gini']:.3f}",
            f"{b['largest_share']:.3f}",
            f"{f['labels']['distinct_words']:.2f}",
            _ndcg(f["user"]),
            _ndcg(f["cluster"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    for name, f in payload["clusterers"].items():
        lines += ["", f"## `{name}`: largest clusters", "", "| cluster | users | top words |"]
        lines.append("|---|---|---|")
        for row in f["labels"]["largest"]:
            lines.append(f"| {row['cluster']} | {row['users']} | {', '.join(row['words'])} |")
        lines += ["", "Parent groups (final tree):", "", "| group | clusters | users | words |"]
        lines.append("|---|---|---|---|")
        for g in f["groups"]:
            members = g["clusters"]
            shown = (
                ", ".join(map(str, members)) if len(members) <= 12 else f"{len(members)} clusters"
            )
            lines.append(f"| {g['group']} | {shown} | {g['users']} | {', '.join(g['words'])} |")
    return "\n".join(lines) + "\n"


def _ndcg(figures: dict) -> str:
    low, high = figures["ndcg@10_ci"]
    return f"{figures['ndcg@10']:.4f} [{low:.4f}, {high:.4f}]"
