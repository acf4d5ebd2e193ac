"""``fairness.json`` and the report's fairness section: who is served well, what is shown.

Every strategy's NDCG@10 and HR@10 on the reported part, broken down by the
served user's activity (prior interactions) and cluster and by the target
item's popularity decile; each strategy's item-exposure Gini and long-tail
coverage; and the popularity-debias sweep of StreamRec's ``user`` blend.
Kept apart from ``metrics.json``, which stays byte for byte what it was.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from streamrec.evaluation.debias import debias_name
from streamrec.evaluation.fairness import (
    ACTIVITY_BUCKETS,
    HEAD_SHARE,
    activity_bucket,
    exposure,
    group_metrics,
    group_sizes,
    long_tail,
    rank_metrics,
)
from streamrec.evaluation.run import STREAMREC, Evaluation
from streamrec.evaluation.uncertainty import UserSample

MIN_CLUSTER_EVENTS = 50  # smaller clusters are listed but left out of the worst/best summary
DEFINITIONS = {
    "part": "the reported 80% (interactions after the tuning slice), as in metrics.json",
    "activity": "the served user's interactions before this one: 0, 1-2, 3-9, 10+",
    "cluster": "the served user's nearest cluster in StreamRec's reference engine at serve "
    "time (-1: none yet)",
    "popularity_decile": "the target item's interactions so far, ranked among every item "
    "seen so far (mid-rank for ties): 1 = least popular tenth ... 10 = most popular",
    "exposure_gini": "Gini of how often each catalogue item (every item of the replay) "
    "appears in the top-10 lists (0: equal exposure, 1: one item takes all)",
    "long_tail": f"all items but the most popular ones that take {HEAD_SHARE:.0%} of the "
    "interactions (by the end of the replay)",
    "long_tail_coverage": "share of the long-tail items that appear in at least one top-10 list",
    "long_tail_share": "share of top-10 slots given to long-tail items",
    "debias": "StreamRec `user` re-ranked by score - strength x log(1 + popularity), read "
    "from the same engine as streamrec-user (strength 0 ranks exactly as it does); the "
    "strengths were fixed in advance, none is tuned; intervals and the paired bootstrap "
    "against strength 0 resample users as in metrics.json",
}


def _strategy_block(
    evaluation: Evaluation, ranks: list[int], tops: list[list[str]], tail: set[str]
) -> dict:
    result, k = evaluation.result, evaluation.result.k
    mask = result.mask("evaluation")
    context = result.context
    ranks_kept = [r for r, keep in zip(ranks, mask, strict=True) if keep]

    def by(labels: list) -> dict:
        kept = [str(g) for g, keep in zip(labels, mask, strict=True) if keep]
        return group_metrics(ranks_kept, kept, k)

    overall = group_metrics(ranks_kept, ["all"] * len(ranks_kept), k)["all"]
    kept_tops = [t for t, keep in zip(tops, mask, strict=True) if keep]
    return {
        **overall,
        **exposure(kept_tops, list(result.item_counts), tail),
        "by_activity": by([activity_bucket(p) for p in context.prior]),
        "by_popularity_decile": by(context.decile),
        "by_cluster": by(context.cluster),
    }


def fairness_payload(evaluation: Evaluation) -> dict:
    """Group metrics and exposure of every strategy and of the debias sweep."""
    result = evaluation.result
    mask = result.mask("evaluation")
    context = result.context
    users = [u for u, keep in zip(result.users, mask, strict=True) if keep]

    def sizes(labels: list) -> dict:
        return group_sizes([str(g) for g, keep in zip(labels, mask, strict=True) if keep], users)

    tail = long_tail(result.item_counts)
    strategies = {
        name: _strategy_block(evaluation, ranks, result.tops[name], tail)
        for name, ranks in sorted(result.ranks.items())
    }
    sweep = {
        f"{s:g}": _strategy_block(
            evaluation,
            result.extra_ranks[debias_name(s)],
            result.extra_tops[debias_name(s)],
            tail,
        )
        for s in evaluation.debias
        if debias_name(s) in result.extra_ranks
    }
    _sweep_uncertainty(evaluation, sweep, users)
    return {
        "dataset": evaluation.dataset,
        "command": evaluation.command,
        "k": result.k,
        "definitions": DEFINITIONS,
        "catalogue": len(result.item_counts),
        "long_tail_items": len(tail),
        "groups": {
            "activity": sizes([activity_bucket(p) for p in context.prior]),
            "popularity_decile": sizes(context.decile),
            "cluster": sizes(context.cluster),
        },
        "strategies": strategies,
        "debias_sweep": {"base": STREAMREC, "strengths": sweep},
    }


def _sweep_uncertainty(evaluation: Evaluation, sweep: dict[str, dict], users: list[str]) -> None:
    """Add each strength's NDCG@10 interval and its paired test against strength 0."""
    result, b = evaluation.result, evaluation.resamples
    mask = result.mask("evaluation")
    ndcg = {}
    for strength in sweep:
        ranks = np.array(result.extra_ranks[debias_name(float(strength))])[mask]
        ndcg[strength] = rank_metrics(ranks, result.k)[0]
    sample = UserSample.of(users, ndcg)
    for strength, block in sweep.items():
        low, high = sample.mean_ci(strength, b)
        block["ndcg@10_ci95"] = [round(low, 5), round(high, 5)]
        if "0" in sweep and strength != "0":
            test = sample.paired_test(strength, "0", b)
            block["vs_strength_0"] = {k: round(v, 6) for k, v in test.items()}


def fairness_lines(payload: dict) -> list[str]:
    """The report's section: activity and popularity breakdowns, exposure, the sweep."""
    strategies = payload["strategies"]
    order = sorted(strategies, key=lambda n: -strategies[n]["ndcg@10"])
    groups = payload["groups"]
    activity = ACTIVITY_BUCKETS
    head = " | ".join(f"{b} ({groups['activity'].get(b, {}).get('events', 0)})" for b in activity)
    lines = [
        "## Fairness and exposure",
        "",
        "Written to `fairness.json` (definitions there). NDCG@10 on the reported part by the "
        "served user's prior interactions (scored interactions in brackets), exposure Gini "
        f"over {payload['catalogue']} items and coverage of the {payload['long_tail_items']} "
        "long-tail items:",
        "",
        f"| strategy | all | {head} | Gini | long-tail coverage | long-tail share |",
        "|---|---|" + "---|" * len(activity) + "---|---|---|",
    ]
    for name in order:
        s = strategies[name]
        cells = " | ".join(_cell(s["by_activity"], b) for b in activity)
        lines.append(
            f"| {name} | {s['ndcg@10']:.4f} | {cells} | {s['exposure_gini']:.3f} | "
            f"{s['long_tail_coverage']:.3f} | {s['long_tail_share']:.3f} |"
        )
    lines += _decile_lines(payload, order) + _cluster_lines(payload, order)
    return lines + _sweep_lines(payload)


def _row(name: str, block: dict, groups: list[str]) -> str:
    return f"| {name} | " + " | ".join(_cell(block, g) for g in groups) + " |"


def _cell(block: dict, group: str) -> str:
    return f"{block[group]['ndcg@10']:.4f}" if group in block else "-"


def _decile_lines(payload: dict, order: list[str]) -> list[str]:
    deciles = list(payload["groups"]["popularity_decile"])
    sizes = payload["groups"]["popularity_decile"]
    return [
        "",
        "NDCG@10 by the popularity decile of the item the user chose (1: least popular "
        "tenth of the items seen so far, 10: most popular; scored interactions in brackets):",
        "",
        "| strategy | " + " | ".join(f"{d} ({sizes[d]['events']})" for d in deciles) + " |",
        "|---|" + "---|" * len(deciles),
        *[_row(n, payload["strategies"][n]["by_popularity_decile"], deciles) for n in order],
    ]


def _cluster_lines(payload: dict, order: list[str]) -> list[str]:
    sizes = payload["groups"]["cluster"]
    big = [c for c, n in sizes.items() if n["events"] >= MIN_CLUSTER_EVENTS and c != "-1"]
    lines = [
        "",
        f"NDCG@10 across the served users' clusters ({len(big)} clusters with at least "
        f"{MIN_CLUSTER_EVENTS} scored interactions; users without a cluster yet are the "
        "activity group 0 above; every cluster in `fairness.json`):",
        "",
        "| strategy | worst cluster | best cluster | best / worst |",
        "|---|---|---|---|",
    ]
    for name in order:
        block = payload["strategies"][name]["by_cluster"]
        values = {c: block[c]["ndcg@10"] for c in big if c in block}
        if not values:
            continue
        low, high = min(values, key=values.get), max(values, key=values.get)  # type: ignore[arg-type]
        ratio = f"{values[high] / values[low]:.2f}" if values[low] > 0 else "inf"
        lines.append(
            f"| {name} | {values[low]:.4f} (cluster {low}) | {values[high]:.4f} (cluster "
            f"{high}) | {ratio} |"
        )
    return lines


def _sweep_lines(payload: dict) -> list[str]:
    sweep = payload["debias_sweep"]["strengths"]
    if not sweep:
        return []
    return [
        "",
        "### Exposure-aware re-rank (`STREAMREC_POPULARITY_DEBIAS`)",
        "",
        "StreamRec `user` re-ranked by score - strength x log(1 + popularity), on the same "
        "engine (strength 0 is `streamrec-user`):",
        "",
        "| strength | HR@10 | NDCG@10 [95% CI] | p vs 0 | NDCG@10, users with 0 / 1-2 prior "
        "| exposure Gini | long-tail coverage | long-tail share |",
        "|---|---|---|---|---|---|---|---|",
        *[
            f"| {s} | {b['hr@10']:.4f} | {b['ndcg@10']:.4f} [{b['ndcg@10_ci95'][0]:.4f}, "
            f"{b['ndcg@10_ci95'][1]:.4f}] | {_p(b)} | {_few(b)} | "
            f"{b['exposure_gini']:.3f} | {b['long_tail_coverage']:.3f} | "
            f"{b['long_tail_share']:.3f} |"
            for s, b in sweep.items()
        ],
        "",
        "![accuracy against exposure](fairness_tradeoff.png)",
        "",
    ]


def _p(block: dict) -> str:
    test = block.get("vs_strength_0")
    return "-" if test is None else f"{test['paired_bootstrap_p']:.3g}"


def _few(block: dict) -> str:
    return " / ".join(_cell(block["by_activity"], b) for b in ("0", "1-2"))


def plot_tradeoff(payload: dict, path: Path) -> None:
    """NDCG@10 against exposure Gini and long-tail coverage, one point per strength."""
    from streamrec.evaluation.plots import _pyplot

    sweep = payload["debias_sweep"]["strengths"]
    if not sweep:
        return
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), dpi=110)
    ndcg = np.array([b["ndcg@10"] for b in sweep.values()])
    for ax, key, label in (
        (axes[0], "exposure_gini", "item-exposure Gini (lower: fairer)"),
        (axes[1], "long_tail_share", "share of top-10 slots given to long-tail items"),
    ):
        x = np.array([b[key] for b in sweep.values()])
        ax.plot(x, ndcg, marker="o")
        for n, (strength, xi, yi) in enumerate(zip(sweep, x, ndcg, strict=True)):
            offset = (4, 6) if n % 2 == 0 else (4, -12)  # alternate so close points stay legible
            ax.annotate(f"λ={strength}", (xi, yi), textcoords="offset points", xytext=offset)
        ax.set_xlabel(label)
        ax.set_ylabel("NDCG@10")
    fig.suptitle(f"{payload['dataset']}: popularity debias of StreamRec `user`")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
