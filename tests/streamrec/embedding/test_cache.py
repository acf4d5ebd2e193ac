import numpy as np
import pytest

from streamrec.embedding.base import normalise_rows
from streamrec.embedding.cache import CachedEmbedder
from tests.doubles import HashingEmbedder


class CountingEmbedder(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__(16)
        self.calls: list[list[str]] = []

    def encode(self, texts):  # type: ignore[no-untyped-def]
        self.calls.append(list(texts))
        return super().encode(texts)


def test_hashing_embedder_gives_unit_rows_and_is_deterministic() -> None:
    embedder = HashingEmbedder(32)
    a, b = embedder.encode(["strings", "pedal board"]), embedder.encode(["strings", "pedal board"])
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-6)


def test_cache_embeds_each_text_once_and_persists(tmp_path) -> None:
    inner = CountingEmbedder()
    cache = CachedEmbedder(lambda: inner, "counting", tmp_path / "cache.npz")
    first = cache.encode(["a b", "c", "a b"])
    second = cache.encode(["c", "d"])
    assert inner.calls == [["a b", "c"], ["d"]]
    np.testing.assert_array_equal(first[0], first[2])
    np.testing.assert_array_equal(first[1], second[0])
    cache.save()
    loaded = CachedEmbedder(
        lambda: pytest.fail("model must not load"), "counting", tmp_path / "cache.npz"
    )
    np.testing.assert_array_equal(loaded.encode(["d", "a b"]), np.vstack([second[1], first[0]]))
    assert loaded.dim == 16


def test_cache_of_another_model_is_refused(tmp_path) -> None:
    cache = CachedEmbedder(CountingEmbedder, "model-a", tmp_path / "c.npz")
    cache.encode(["x"])
    cache.save()
    with pytest.raises(ValueError, match="model-a"):
        CachedEmbedder(CountingEmbedder, "model-b", tmp_path / "c.npz")


def test_normalise_rows_leaves_zero_rows_at_zero() -> None:
    rows = normalise_rows(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(rows, [[0.6, 0.8], [0.0, 0.0]])


def test_cache_keys_ending_in_nul_bytes_survive_a_round_trip(tmp_path) -> None:
    texts = [f"text {n}" for n in range(2000)]  # about 8 keys end in a NUL byte
    assert any(CachedEmbedder.key(t).endswith(b"\x00") for t in texts)
    cache = CachedEmbedder(CountingEmbedder, "counting", tmp_path / "c.npz")
    cache.encode(texts)
    cache.save()
    loaded = CachedEmbedder(
        lambda: pytest.fail("model must not load"), "counting", tmp_path / "c.npz"
    )
    assert loaded.encode(texts).shape == (2000, 16)


def test_the_hashing_test_double_is_not_reachable_from_the_package() -> None:
    import importlib
    import pkgutil

    import streamrec

    for module in pkgutil.walk_packages(streamrec.__path__, "streamrec."):
        if module.name.endswith("__main__"):
            continue
        assert not hasattr(importlib.import_module(module.name), "HashingEmbedder"), module.name
