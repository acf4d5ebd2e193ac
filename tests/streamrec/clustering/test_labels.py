import numpy as np

from streamrec.clustering.labels import ClusterLabeler, tokens


def test_english_tokens_drop_stop_words_and_short_words() -> None:
    assert tokens("The strings are really bright, I'd say the tuner holds") == [
        "strings",
        "bright",
        "say",
        "tuner",
        "holds",
    ]


def test_chinese_comments_become_character_bigrams() -> None:
    assert tokens("这个麦克风音质清晰") == ["麦克", "克风", "风音", "音质", "质清", "清晰"]


def test_labels_are_the_distinctive_words_of_each_cluster_in_chinese_too() -> None:
    labeler = ClusterLabeler()
    strings = [
        "琴弦音色明亮，琴弦不容易断",
        "这套琴弦手感很好，琴弦价格便宜",
        "新琴弦换上后音色明亮",
    ]
    mics = ["麦克风录音清晰，麦克风底噪小", "这个麦克风适合录人声", "麦克风支架稳固，录音效果好"]
    vector = np.ones(4) / 2
    for n, text in enumerate(strings):
        labeler.add(1, text, vector, f"s{n}", "i", vector)
    for n, text in enumerate(mics):
        labeler.add(2, text, vector, f"m{n}", "i", vector)
    labels = labeler.labels(top=3)
    assert "琴弦" in labels[1] and "麦克" in labels[2]
    assert "琴弦" not in labels[2] and "麦克" not in labels[1]


def test_state_round_trip_and_forgetting_a_user() -> None:
    labeler = ClusterLabeler(candidates=3)
    centroid = np.array([1.0, 0.0])
    for n in range(5):
        labeler.add(
            0,
            f"tuner accurate clip number{n}",
            np.array([1.0, n / 10]),
            f"e{n}",
            f"i{n}",
            centroid,
            user_id=f"u{n % 2}",
        )
    copy = ClusterLabeler()
    copy.load(labeler.state())
    assert copy.labels() == labeler.labels()
    assert [r.event_id for r in copy.representatives(0, centroid)] == [
        r.event_id for r in labeler.representatives(0, centroid)
    ]
    labeler.forget_user("u0")
    assert all(r.user_id != "u0" for r in labeler.clusters[0].representatives)


def test_a_merge_keeps_out_representatives_another_worker_erased() -> None:
    centroid = np.array([1.0, 0.0])
    labeler = ClusterLabeler()
    for n in range(4):
        labeler.add(0, "bright strings", np.array([1.0, n / 10]), f"e{n}", "i", centroid, f"u{n}")
    base = labeler.state()
    owner = ClusterLabeler()
    owner.load(base)
    owner.forget_user("u1")  # the owner of u1's partition erased u1 and synced first
    theirs = owner.state()
    labeler.add(0, "warm strings", np.array([1.0, 0.05]), "e9", "i", centroid, "u9")
    merged = ClusterLabeler.merge(base, labeler.state(), theirs)
    assert "u1" not in merged["0"]["rep_users"] and "e1" not in merged["0"]["rep_ids"]
    assert "u9" in merged["0"]["rep_users"]  # this worker's new representative stays
    assert len(merged["0"]["rep_vectors"]) == len(merged["0"]["rep_ids"])


def test_word_bags_and_representatives_stay_bounded_under_steady_traffic() -> None:
    labeler = ClusterLabeler(decay_every=1000, max_terms=50, candidates=4)
    vector = np.ones(2) / np.sqrt(2)
    for n in range(400):  # 10 new words per review, no decay in between; no centroid yet
        text = " ".join(f"word{n}x{k}" for k in range(10))
        labeler.add(1, text, vector, f"e{n}", "i", None)
        assert len(labeler.clusters[1].counts) <= 4 * 50 + 10
        assert len(labeler.clusters[1].representatives) <= 4
    assert [r.event_id for r in labeler.clusters[1].representatives] == [
        "e396",
        "e397",
        "e398",
        "e399",
    ]
    labeler.add(2, "other words", vector, "f0", "i", None)
    labeler.apply_lifecycle("merged", 2, (1,))
    assert len(labeler.clusters[1].representatives) == 4
