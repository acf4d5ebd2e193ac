"""Cluster labels: the most distinctive words of each cluster's recent reviews.

Class-based TF-IDF (as BERTopic's c-TF-IDF): a term's weight in cluster ``c``
is ``tf(t, c) * log(1 + A / f(t))``, where ``tf`` is the term's (decayed)
count in the cluster, ``f`` its count over all clusters and ``A`` the average
number of terms per cluster. Words are lower-cased Latin/other word tokens
without stop words; runs of CJK characters (no spaces between words) become
character bigrams, so Chinese comments get labels too.

Only bags of words are kept (decayed, pruned), plus the ids of the reviews
closest to each centroid; the text of those representative reviews stays in
memory and never reaches Redis.

>>> tokens("Great strings! 琴弦很好")
['strings', '琴弦']
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_TOKEN = re.compile(rf"[{_CJK}]+|[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)
_IS_CJK = re.compile(rf"[{_CJK}]")

STOP_WORDS = frozenset(
    """
a about above after again against all also am an and any are aren as at be because been
before being below between both but by can cannot could did didn do does doesn doing don down
during each few for from further get got had has have having he her here hers herself him
himself his how i if in into is isn it its itself just let me more most much my myself no nor
not now of off on once only or other our ours ourselves out over own really same she should so
some such than that the their theirs them themselves then there these they this those through
to too under until up very was wasn we well were what when where which while who whom why will
with won would you your yours yourself yourselves one two use used using will get gets got
like good great nice very well really just also even still much many lot bit ve ll re s t d m
im it's i'm i've i'd i'll you're don't can't doesn't didn't isn't wasn't won't
product item buy bought amazon
""".split()
)
_CJK_STOP = frozenset("的了是我在有这个很也就都不和就")
_REPRESENTATIVE_KEYS = ("rep_ids", "rep_items", "rep_users", "rep_vectors")


def _kept_representatives(source: dict, base: dict | None, theirs: dict | None) -> dict:
    """``source``'s representatives without those another worker removed since ``base``
    (an erased user's reviews must not come back from this worker's older copy)."""
    before = set(base["rep_ids"]) if base is not None else set()
    now = set(theirs["rep_ids"]) if theirs is not None else set()
    keep = [n for n, rid in enumerate(source["rep_ids"]) if not (rid in before and rid not in now)]
    if len(keep) == len(source["rep_ids"]):
        return {key: source[key] for key in _REPRESENTATIVE_KEYS}
    return {
        "rep_ids": [source["rep_ids"][n] for n in keep],
        "rep_items": [source["rep_items"][n] for n in keep],
        "rep_users": [source["rep_users"][n] for n in keep],
        "rep_vectors": np.asarray(source["rep_vectors"])[keep],
    }


def tokens(text: str) -> list[str]:
    """Word tokens for labels; CJK runs become overlapping character bigrams."""
    out: list[str] = []
    for match in _TOKEN.findall(text.lower()):
        if _IS_CJK.match(match):
            if len(match) == 1 and match not in _CJK_STOP:
                out.append(match)
            out.extend(
                match[i : i + 2]
                for i in range(len(match) - 1)
                if match[i] not in _CJK_STOP and match[i + 1] not in _CJK_STOP
            )
        elif len(match) >= 3 and match not in STOP_WORDS:
            out.append(match)
    return out


@dataclass
class Representative:
    event_id: str
    item_id: str
    vector: np.ndarray
    text: str = ""  # in memory only
    user_id: str = ""


@dataclass
class ClusterWords:
    counts: Counter = field(default_factory=Counter)
    reviews: int = 0
    representatives: list[Representative] = field(default_factory=list)


class ClusterLabeler:
    """Keeps decayed word counts and candidate representative reviews per cluster.

    Every ``decay_every`` reviews of a cluster its counts halve and counts below
    0.5 are dropped, so labels follow what the cluster writes about now and the
    vocabulary stays bounded.
    """

    def __init__(self, decay_every: int = 300, max_terms: int = 3000, candidates: int = 12) -> None:
        self.decay_every = decay_every
        self.max_terms = max_terms
        self.candidates = candidates
        self.clusters: dict[int, ClusterWords] = {}

    def add(
        self,
        cluster_id: int,
        text: str,
        vector: np.ndarray,
        event_id: str,
        item_id: str,
        centroid: np.ndarray | None,
        user_id: str = "",
    ) -> None:
        words = self.clusters.setdefault(cluster_id, ClusterWords())
        words.counts.update(tokens(text))
        words.reviews += 1
        if words.reviews % self.decay_every == 0:
            self._decay(words)
        elif len(words.counts) > 4 * self.max_terms:  # long reviews between decays
            words.counts = Counter(dict(words.counts.most_common(self.max_terms)))
        words.representatives.append(Representative(event_id, item_id, vector, text[:300], user_id))
        self._trim(words, centroid)

    def _trim(self, words: ClusterWords, centroid: np.ndarray | None) -> None:
        """Keep ``candidates`` representatives: the closest to the centroid, else the newest."""
        if len(words.representatives) <= self.candidates:
            return
        if centroid is not None:
            words.representatives.sort(key=lambda r: -float(r.vector @ centroid))
            del words.representatives[self.candidates :]
        else:
            del words.representatives[: -self.candidates]

    def _decay(self, words: ClusterWords) -> None:
        words.counts = Counter(
            {t: c / 2 for t, c in words.counts.most_common(self.max_terms) if c >= 1.0}
        )

    def forget_user(self, user_id: str) -> None:
        """Drop the user's reviews from the representatives (word counts are anonymous)."""
        for words in self.clusters.values():
            words.representatives = [r for r in words.representatives if r.user_id != user_id]

    def apply_lifecycle(self, kind: str, cluster_id: int, related: tuple[int, ...]) -> None:
        if kind == "merged" and cluster_id in self.clusters:
            absorbed = self.clusters.pop(cluster_id)
            kept = self.clusters.setdefault(related[0], ClusterWords())
            kept.counts.update(absorbed.counts)
            kept.reviews += absorbed.reviews
            kept.representatives += absorbed.representatives
            self._trim(kept, None)
        elif kind == "died":
            self.clusters.pop(cluster_id, None)

    def labels(self, top: int = 6) -> dict[int, list[str]]:
        """The ``top`` most distinctive terms of every cluster (c-TF-IDF)."""
        if not self.clusters:
            return {}
        totals: Counter = Counter()
        for words in self.clusters.values():
            totals.update(words.counts)
        average = sum(totals.values()) / len(self.clusters)
        terms = list(totals)
        idf = np.log1p(average / np.fromiter(totals.values(), dtype=np.float64, count=len(terms)))
        column = {term: n for n, term in enumerate(terms)}
        out: dict[int, list[str]] = {}
        for cluster_id, words in self.clusters.items():
            own = list(words.counts)
            counts = np.fromiter(words.counts.values(), dtype=np.float64, count=len(own))
            scores = counts * idf[[column[t] for t in own]]
            best = np.argsort(-scores, kind="stable")[:top]
            out[cluster_id] = [own[n] for n in best]
        return out

    def representatives(
        self, cluster_id: int, centroid: np.ndarray, top: int = 3
    ) -> list[Representative]:
        words = self.clusters.get(cluster_id)
        if words is None:
            return []
        return sorted(words.representatives, key=lambda r: -float(r.vector @ centroid))[:top]

    def state(self) -> dict:
        """Word counts and representative ids and vectors; the texts are left out."""
        return {
            str(cid): {
                "terms": list(w.counts),
                "counts": np.array(list(w.counts.values())),
                "reviews": w.reviews,
                "rep_ids": [r.event_id for r in w.representatives],
                "rep_items": [r.item_id for r in w.representatives],
                "rep_users": [r.user_id for r in w.representatives],
                "rep_vectors": np.array([r.vector for r in w.representatives], dtype=np.float32),
            }
            for cid, w in self.clusters.items()
        }

    @staticmethod
    def merge(base: dict, mine: dict, theirs: dict, alive: set[int] | None = None) -> dict:
        """Word counts add up (``theirs + mine - base``); representatives come from this
        worker where it has them. Clusters not in ``alive`` are dropped."""
        out: dict = {}
        for cluster_id in set(theirs) | set(mine):
            if alive is not None and int(cluster_id) not in alive:
                continue
            counts: Counter = Counter()
            for state, sign in ((theirs, 1), (mine, 1), (base, -1)):
                entry = state.get(cluster_id)
                if entry is not None:
                    for term, count in zip(
                        entry["terms"], np.asarray(entry["counts"]).tolist(), strict=True
                    ):
                        counts[term] += sign * count
            kept = {t: c for t, c in counts.items() if c > 0}
            source = mine.get(cluster_id) or theirs[cluster_id]
            reviews = sum(
                int(s[cluster_id]["reviews"]) * sign
                for s, sign in ((theirs, 1), (mine, 1), (base, -1))
                if cluster_id in s
            )
            out[cluster_id] = {
                "terms": list(kept),
                "counts": np.array(list(kept.values())),
                "reviews": max(0, reviews),
                **_kept_representatives(source, base.get(cluster_id), theirs.get(cluster_id)),
            }
        return out

    def load(self, state: dict) -> None:
        self.clusters = {}
        for cid, data in state.items():
            counts = Counter(
                dict(zip(data["terms"], np.asarray(data["counts"]).tolist(), strict=True))
            )
            reps = [
                Representative(e, i, np.asarray(v), "", u)
                for e, i, v, u in zip(
                    data["rep_ids"],
                    data["rep_items"],
                    data["rep_vectors"],
                    data["rep_users"],
                    strict=True,
                )
            ]
            self.clusters[int(cid)] = ClusterWords(counts, int(data["reviews"]), reps)
