"""An ONNX Runtime backend for the sentence-transformers model, fp32 or int8, CPU only.

The model's transformer is exported once with ``torch.onnx.export`` into a cache
folder; ``onnx-int8`` then quantises the weights of its matrix products per
channel (``onnxruntime.quantization.quantize_dynamic``). Pooling (mean over the
attention mask) and normalisation are done here in numpy, so the vectors are
those of ``SentenceTransformer.encode`` up to the export's and the
quantisation's rounding: fp32 agrees to cosine 1.0, int8 to 0.98 or more per
text (``benchmarks/onnx_backend.py`` measures it on every Amazon review and on
short summaries and single words, which run in fp32 below 16 tokens).

Only models made of a transformer, mean pooling and optionally a normalisation
step are accepted; anything else gets a clear error instead of wrong vectors.
"""

from __future__ import annotations

import hashlib
import logging
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from streamrec.core.settings import DEFAULT_ONNX_DIR
from streamrec.embedding.base import normalise_rows

OnnxVariant = Literal["fp32", "int8"]
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
SHORT_TEXT_TOKENS = 16  # below this many tokens the int8 variant runs fp32
INT8_RECIPE = "r2"  # bump when _int8_nodes changes, so old exports are not reused


def _require_mean_pooling(model: Any) -> None:
    kinds = [type(module).__name__ for module in model]
    pooling = [module for module in model if type(module).__name__ == "Pooling"]
    allowed = {"Transformer", "Pooling", "Normalize"}
    mode = ""
    if pooling:  # sentence-transformers 5+ names the mode; older versions describe it
        mode = getattr(pooling[0], "pooling_mode", None) or pooling[0].get_pooling_mode_str()
    if set(kinds) - allowed or len(pooling) != 1 or mode != "mean":
        raise ValueError(
            f"the onnx backend supports transformer + mean pooling models only, "
            f"not {' -> '.join(kinds)}"
        )


def _int8_nodes(fp32: Path) -> list[str]:
    """The matrix products worth int8: those with a weight, except the first layer's and
    the feed-forward output projections. Quantising those too (per tensor, or every
    product) moved short reviews to cosine 0.94-0.97 of fp32; without them the worst
    review of the Amazon set stays above 0.98 (benchmarks/onnx_backend.py)."""
    import onnx

    graph = onnx.load(str(fp32), load_external_data=False).graph
    weights = {init.name for init in graph.initializer}
    return [
        node.name
        for node in graph.node
        if node.op_type == "MatMul"
        and any(i in weights for i in node.input)
        and "layer.0/" not in node.name
        and not ("output/dense" in node.name and "attention" not in node.name)
    ]


def export_path(model_path: str, variant: OnnxVariant, folder: Path) -> Path:
    """Where the exported model of ``model_path`` lives (one file per model and variant)."""
    digest = hashlib.blake2b(str(Path(model_path).resolve()).encode(), digest_size=6).hexdigest()
    recipe = {"fp32": "fp32", "int8": f"int8-{INT8_RECIPE}"}[variant]
    return folder / f"{Path(model_path).name}-{digest}-{recipe}.onnx"


def export_onnx(model: Any, model_path: str, variant: OnnxVariant, folder: Path) -> Path:
    """Export (and for int8 quantise) the transformer of a loaded SentenceTransformer once."""
    import torch

    target = export_path(model_path, variant, folder)
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    fp32 = export_path(model_path, "fp32", folder)
    if not fp32.exists():
        transformer = model[0].auto_model.eval()
        names = [n for n in _INPUTS if n in model.tokenizer.model_input_names]
        sample = model.tokenizer(
            ["a short text", "and a slightly longer one"], padding=True, return_tensors="pt"
        )

        class LastHiddenState(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.transformer = transformer

            def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
                return self.transformer(**dict(zip(names, inputs, strict=True))).last_hidden_state

        partial = fp32.with_suffix(f".{os.getpid()}.tmp")
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                LastHiddenState(),
                tuple(sample[n] for n in names),
                str(partial),
                input_names=names,
                output_names=["hidden"],
                opset_version=17,
                dynamo=False,
                dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "hidden"]},
            )
        partial.replace(fp32)  # atomic: a concurrent exporter never reads half a file
    if variant == "int8":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        partial = target.with_suffix(f".{os.getpid()}.tmp")
        logging.disable(logging.WARNING)  # its advice to pre-process goes to the root logger
        try:
            quantize_dynamic(
                str(fp32),
                str(partial),
                weight_type=QuantType.QInt8,
                per_channel=True,
                op_types_to_quantize=["MatMul"],
                nodes_to_quantize=_int8_nodes(fp32),
            )
        finally:
            logging.disable(logging.NOTSET)
        partial.replace(target)
    return target


class OnnxEmbedder:
    """The model through ONNX Runtime on the CPU; rows are L2-normalised like the others."""

    def __init__(
        self,
        model_path: str,
        variant: OnnxVariant = "int8",
        batch_size: int = 16,
        max_seq_tokens: int = 0,
        threads: int = 0,
        folder: Path = DEFAULT_ONNX_DIR,
        name: str | None = None,
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import onnxruntime as ort
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(model_path, device="cpu")
        _require_mean_pooling(model)
        self.tokenizer = model.tokenizer
        self.max_tokens = max_seq_tokens or int(model.max_seq_length)
        self.batch_size = batch_size or 16
        self.name = name or f"{Path(model_path).name}+onnx-{variant}"
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        # int8 moves texts of a few tokens most (mean pooling averages little noise
        # away), so those run in fp32: they are also the cheapest to run
        variants: list[OnnxVariant] = ["fp32"] if variant == "fp32" else ["fp32", "int8"]
        self.sessions = {
            v: ort.InferenceSession(
                str(export_onnx(model, model_path, v, Path(folder))),
                options,
                providers=["CPUExecutionProvider"],
            )
            for v in variants
        }
        self.variant = variant
        self.inputs = [i.name for i in self.sessions["fp32"].get_inputs()]
        getter = getattr(model, "get_embedding_dimension", None)
        self.dim = int((getter or model.get_sentence_embedding_dimension)())

    def _forward(
        self, encoded: dict[str, list[list[int]]], rows: np.ndarray, variant: OnnxVariant
    ) -> np.ndarray:
        batch = self.tokenizer.pad(
            {k: [encoded[k][i] for i in rows] for k in encoded}, return_tensors="np"
        )
        feeds = {name: batch[name].astype(np.int64) for name in self.inputs}
        hidden = self.sessions[variant].run(None, feeds)[0]
        mask = batch["attention_mask"][..., None].astype(np.float32)
        return normalise_rows((hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        # tokenised once: the lengths pick the variant, then batches are only padded
        encoded = self.tokenizer(list(texts), truncation=True, max_length=self.max_tokens)
        encoded = {k: v for k, v in encoded.items() if k in self.inputs}
        tokens = np.array([len(ids) for ids in encoded["input_ids"]])
        short = (tokens < SHORT_TEXT_TOKENS) | (self.variant == "fp32")
        for variant, chosen in (("fp32", short), ("int8", ~short)):
            # length-sorted batches waste less on padding, as sentence-transformers does
            rows_all = np.flatnonzero(chosen)[np.argsort(-tokens[chosen], kind="stable")]
            for start in range(0, len(rows_all), self.batch_size):
                rows = rows_all[start : start + self.batch_size]
                out[rows] = self._forward(encoded, rows, variant)  # type: ignore[arg-type]
        return out
