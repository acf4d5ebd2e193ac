"""Backfill evaluation report: every strategy side by side on one replayed stream.

:func:`write_report` writes ``metrics.json`` (byte for byte the same for the
same command), ``fairness.json`` (group metrics and exposure, deterministic too),
``timing.json``, ``report.md`` and PNG plots of an
:class:`~streamrec.evaluation.run.Evaluation`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from streamrec.evaluation.fairness_report import fairness_lines, fairness_payload, plot_tradeoff
from streamrec.evaluation.payload import metrics_payload
from streamrec.evaluation.result import SERVED
from streamrec.evaluation.run import (
    BATCH,
    PRODUCTION_BATCH,
    PRODUCTION_PARTITIONS,
    PROTOCOL,
    SERVED_PRODUCTION,
    STREAMREC,
    Evaluation,
)

__all__ = ["write_report"]


DESCRIPTIONS = {
    STREAMREC: "StreamRec `user`: online-learned blend (trends, co-occurrence, transitions, "
    "text similarity to the user's profile and last review, cluster engagement)",
    SERVED: "what the pipeline serves, best case: lists as materialised in Redis after each "
    "event, via the user -> cluster -> trending fallback",
    SERVED_PRODUCTION: f"what the pipeline serves with the worker's default micro-batch "
    f"({PRODUCTION_BATCH} reviews) over {PRODUCTION_PARTITIONS} partitions: "
    "lists as of the last whole batch",
    BATCH: "the same, clusters from batch k-means over all embeddings so far, refit every "
    "1000 reviews",
    "streamrec-cluster": "StreamRec `cluster`: in-cluster engagement shrunk toward trending, "
    "plus item-centroid similarity",
    "streamrec-rerank": "StreamRec `rerank`: cluster candidates reranked by the user's vector",
    "streamrec-trending": "StreamRec `trending` (half-life 1000 events = 500 interactions)",
    "popularity": "all-time popularity",
    "item-knn": "item-item co-occurrence, tuned normalisation/shrinkage/recency",
    "biasedmf-negatives": "River reco.BiasedMF, one sampled negative per event, tuned",
    "isgd": "ISGD (Vinagre et al. 2014), tuned",
    "raisgd": "RAISGD (Vinagre et al. 2015), recency-based negatives, tuned",
    "random": "uniform random",
}


DATASET_NOTES = {
    "MovieLens": "\nRatings are clicks (rating kept); the text of each interaction is the "
    "movie's title and genres plus the user's tags for it.",
}


def _describe(name: str, chosen_trending: str) -> str:
    if name.startswith("trending-"):
        tuned = " (tuned choice)" if name == chosen_trending else ""
        return f"trending: decayed popularity, half-life in interactions{tuned}"
    return DESCRIPTIONS.get(name, "")


def write_report(evaluation: Evaluation, out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    payload = metrics_payload(evaluation)
    (out / "metrics.json").write_text(json.dumps(payload, indent=2) + "\n")
    (out / "timing.json").write_text(
        json.dumps(
            {
                "replay_seconds": round(evaluation.seconds, 1),
                "tuning_seconds": round(evaluation.tuning_seconds, 1),
                "model_seconds": evaluation.model_seconds,
            },
            indent=2,
        )
        + "\n"
    )
    fairness = fairness_payload(evaluation)  # beside metrics.json, which it leaves alone
    (out / "fairness.json").write_text(json.dumps(fairness, indent=2) + "\n")
    lines = _report_lines(evaluation, payload) + fairness_lines(fairness)
    (out / "report.md").write_text("\n".join(lines))
    _plot_rolling(evaluation, out / "rolling_ndcg.png")
    _plot_cluster_sizes(evaluation, out / "cluster_sizes.png")
    plot_tradeoff(fairness, out / "fairness_tradeoff.png")
    return payload


def _p_value(p: float) -> str:
    return "< 1e-12" if p < 1e-12 else f"{p:.3g}"


def _report_lines(evaluation: Evaluation, payload: dict) -> list[str]:
    rows = sorted(payload["evaluation"].items(), key=lambda kv: -kv[1]["ndcg@10"])
    intervals = payload["confidence_intervals_95"]
    tuned = payload["tuned_on_tuning_slice"]
    lines = [
        f"# Backfill evaluation: {evaluation.dataset}",
        "",
        f"Reproduce with `{payload['command']}` (it rewrites this metrics.json byte for byte).",
        *[f"{note}" for key, note in DATASET_NOTES.items() if key in evaluation.dataset],
        "",
        "## Protocol",
        "",
        *[f"- **{k}**: {v}" for k, v in PROTOCOL.items()],
        f"- scored interactions: {payload['scored_events']['all']} "
        f"(tuning {payload['scored_events']['tuning']}, reported "
        f"{payload['scored_events']['evaluation']}); catalogue {payload['catalogue']} items",
        "",
        "### Tuned on the tuning slice (chosen by NDCG@10 there)",
        "",
        "| family | chosen | parameters | candidates |",
        "|---|---|---|---|",
        *[
            f"| {family} | {tuned['chosen'][family]} | {tuned['params'][family]} | "
            f"{len(tuned['ndcg@10_on_tuning_slice'][family])} |"
            for family in tuned["chosen"]
        ],
        "",
        "### Fixed in advance",
        "",
        *[f"- **{k}**: {v}" for k, v in payload["fixed_in_advance"].items()],
        "",
        "## Results on the reported 80%",
        "",
        "| strategy | HR@10 [95% CI] | NDCG@10 [95% CI] | MAP@10 | MRR | coverage | what it is |",
        "|---|---|---|---|---|---|---|",
    ]
    chosen_trending = tuned["chosen"]["trending"]
    for name, m in rows:
        hr_ci, ndcg_ci = intervals[name]["hr@10"], intervals[name]["ndcg@10"]
        lines.append(
            f"| {name} | {m['hr@10']:.4f} [{hr_ci[0]:.4f}, {hr_ci[1]:.4f}] | "
            f"{m['ndcg@10']:.4f} [{ndcg_ci[0]:.4f}, {ndcg_ci[1]:.4f}] | {m['map@10']:.4f} | "
            f"{m['mrr']:.4f} | {m['coverage']:.3f} | {_describe(name, chosen_trending)} |"
        )
    test = payload["paired_test"]
    smallest = 2 / (evaluation.resamples + 1)
    floor = (
        f" (the smallest {evaluation.resamples} resamples can show)"
        if test["paired_bootstrap_p"] <= smallest + 1e-6
        else ""
    )
    lines += [
        "",
        "## StreamRec `user` against each tuned baseline (NDCG@10, target >= 1.3)",
        "",
        "| baseline | row | ratio | 95% CI |",
        "|---|---|---|---|",
        *[
            f"| {r['family']} | {r['baseline']} | **{r['value']}** | "
            f"[{r['ci95'][0]}, {r['ci95'][1]}] |"
            if r["value"] is not None
            else f"| {r['family']} | {r['baseline']} | undefined (its NDCG@10 is 0) | |"
            for r in payload["ratios"].values()
        ],
        "",
        f"Best tuned baseline: **{payload['best_tuned_baseline']}**. Paired test over "
        f"{int(test['users'])} users ({int(test['users_differing'])} differ): mean NDCG@10 "
        f"difference {test['mean_difference']:.4f}, paired bootstrap p = "
        f"{test['paired_bootstrap_p']:.4g}{floor}, Wilcoxon signed-rank p = "
        f"{_p_value(test['wilcoxon_p'])}.",
        "",
        f"Streaming / batch twin NDCG@10: {payload['streamrec_vs_batch_ndcg']} (target >= 0.95).",
        "",
        f"Oracle, not a target: the trending half-life best on the reported part is "
        f"{payload['oracle_not_a_target']['best_trending_on_evaluation']}.",
        "",
        f"Replay time (tuning and full replay): {evaluation.seconds:.0f} s.",
        "",
        "![rolling NDCG@10](rolling_ndcg.png)",
        "",
        "![cluster sizes](cluster_sizes.png)",
        "",
    ]
    return lines


def _plot_rolling(evaluation: Evaluation, path: Path) -> None:
    from streamrec.evaluation.plots import _pyplot

    plt = _pyplot()
    result = evaluation.result
    names = [
        STREAMREC,
        SERVED,
        SERVED_PRODUCTION,
        BATCH,
        evaluation.chosen["trending"],
        "item-knn",
        "biasedmf-negatives",
        "isgd",
        "raisgd",
        "popularity",
    ]
    fig, ax = plt.subplots(figsize=(11, 5.5), dpi=110)
    for name in names:
        if name in result.ranks:
            ts, values = result.rolling(name, window=500)
            dates = np.asarray(ts).astype("int64").astype("datetime64[s]")
            ax.plot(dates, values, label=name, lw=1.4)
    ax.set_title(f"{evaluation.dataset}: rolling NDCG@10 (last 500 scored interactions)")
    ax.set_ylabel("NDCG@10")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _plot_cluster_sizes(evaluation: Evaluation, path: Path) -> None:
    from streamrec.evaluation.plots import _pyplot

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(11, 5.5), dpi=110)
    ids = sorted({i for _, sizes in evaluation.cluster_sizes for i in sizes})
    dates = (
        np.array([ts for ts, _ in evaluation.cluster_sizes]).astype("int64").astype("datetime64[s]")
    )
    if ids:
        stack = np.array(
            [[sizes.get(i, 0.0) for i in ids] for _, sizes in evaluation.cluster_sizes]
        ).T
        ax.stackplot(dates, stack, linewidth=0)
    ax.set_title(f"{evaluation.dataset}: decayed weight of each online cluster over time")
    ax.set_ylabel("decayed weight")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
