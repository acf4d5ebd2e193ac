"""The ONNX Runtime backends against the torch model on real review texts."""

from pathlib import Path

import numpy as np
import pytest

from streamrec.core.settings import DEFAULT_MODEL
from streamrec.core.text import clean_text
from streamrec.embedding.factory import make_embedder
from streamrec.embedding.onnx_backend import OnnxEmbedder, _require_mean_pooling, export_path
from streamrec.embedding.torch_backend import resolve_model_path

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def onnx_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx")


@pytest.fixture(scope="module")
def texts(amazon_slice) -> list[str]:  # type: ignore[no-untyped-def]
    reviews = [clean_text(i.text) for i in amazon_slice[:24]]
    return [
        *reviews,
        "好的琴弦，声音很亮",
        "x " * 2000,
        "ok",
        "great",
        "meh.",
        "Five Stars",
        "fine. good stuff",
        "Good. Good value",
    ]


def test_fp32_export_gives_the_torch_vectors(embedder, texts, onnx_dir) -> None:  # type: ignore[no-untyped-def]
    onnx = make_embedder(DEFAULT_MODEL, device="cpu", backend="onnx", onnx_dir=onnx_dir)
    vectors = onnx.encode(texts)
    cosine = (vectors * embedder.encode(texts)).sum(axis=1)
    assert onnx.dim == embedder.dim and vectors.dtype == np.float32
    assert cosine.min() > 0.9999
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)


def test_int8_stays_within_the_cosine_bar(embedder, texts, onnx_dir) -> None:  # type: ignore[no-untyped-def]
    int8 = make_embedder(DEFAULT_MODEL, device="cpu", backend="onnx-int8", onnx_dir=onnx_dir)
    cosine = (int8.encode(texts) * embedder.encode(texts)).sum(axis=1)
    assert cosine.min() >= 0.98, cosine  # every text, short ones included
    assert int8.name == f"{DEFAULT_MODEL}+onnx-int8"


def test_order_batches_and_empty_input(texts, onnx_dir) -> None:  # type: ignore[no-untyped-def]
    small = OnnxEmbedder(resolve_model_path(DEFAULT_MODEL), "fp32", batch_size=3, folder=onnx_dir)
    forward, backward = small.encode(texts[:7]), small.encode(texts[:7][::-1])
    np.testing.assert_allclose(forward, backward[::-1], atol=1e-5)
    assert small.encode([]).shape == (0, small.dim)


def test_export_happens_once(onnx_dir) -> None:  # type: ignore[no-untyped-def]
    path = export_path(resolve_model_path(DEFAULT_MODEL), "int8", onnx_dir)
    OnnxEmbedder(resolve_model_path(DEFAULT_MODEL), "int8", folder=onnx_dir)
    stamp = path.stat().st_mtime_ns
    OnnxEmbedder(resolve_model_path(DEFAULT_MODEL), "int8", folder=onnx_dir)
    assert path.stat().st_mtime_ns == stamp
    assert not list(onnx_dir.glob("*.tmp"))


def test_unsupported_models_and_backends_are_refused() -> None:
    from sentence_transformers import SentenceTransformer, models

    transformer = models.Transformer(resolve_model_path(DEFAULT_MODEL))
    cls_pooling = SentenceTransformer(
        modules=[
            transformer,
            models.Pooling(transformer.auto_model.config.hidden_size, pooling_mode="cls"),
        ],
        device="cpu",
    )
    with pytest.raises(ValueError, match="mean pooling"):
        _require_mean_pooling(cls_pooling)
    with pytest.raises(ValueError, match="unknown embedding backend"):
        make_embedder(DEFAULT_MODEL, backend="tensorrt")
    with pytest.raises(ValueError, match="CPU"):
        make_embedder(DEFAULT_MODEL, device="cuda", backend="onnx-int8")
