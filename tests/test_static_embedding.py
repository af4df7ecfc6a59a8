"""StaticEmbedder on the real shipped artifact: contract, tokenizer fidelity, meaning."""

from __future__ import annotations

import threading
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

import tiermem.static_embedding as static
from tiermem.embeddings import Embedder
from tiermem.errors import ConfigError, InvalidInputError
from tiermem.static_embedding import StaticEmbedder

DIMS = 256


@pytest.fixture(scope="module")
def embedder() -> StaticEmbedder:
    return StaticEmbedder()


def _cos(embedder: StaticEmbedder, a: str, b: str) -> float:
    va, vb = embedder.embed([a, b])
    return float(va @ vb)


def test_artifact_is_shipped_small_and_float16() -> None:
    ref = resources.files("tiermem").joinpath("data", static.DEFAULT_ARTIFACT)
    with resources.as_file(ref) as path, np.load(path, allow_pickle=False) as archive:
        assert path.stat().st_size < 20 * 1024 * 1024
        assert archive["embeddings"].dtype == np.float16
        assert archive["embeddings"].shape == (archive["vocab"].shape[0], DIMS)
        assert str(archive["source_license"]) == "Apache-2.0"


def test_protocol_name_and_dimensions(embedder: StaticEmbedder) -> None:
    assert isinstance(embedder, Embedder)
    assert embedder.name == "static-minilm-256-v1"
    assert embedder.dimensions == DIMS


def test_shape_dtype_unit_rows(embedder: StaticEmbedder) -> None:
    texts = ["Hello there!", "I went to a support group yesterday.", "ok"]
    vectors = embedder.embed(texts)
    assert vectors.shape == (3, DIMS)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.embed([]).shape == (0, DIMS)


def test_deterministic_and_batch_equals_one_by_one(embedder: StaticEmbedder) -> None:
    texts = ["Caroline went to the LGBTQ support group.", "", "Melanie paints sunsets.", "x"]
    batch = embedder.embed(texts)
    np.testing.assert_array_equal(batch, embedder.embed(texts))
    np.testing.assert_array_equal(batch, StaticEmbedder().embed(texts))
    singles = np.vstack([embedder.embed([t]) for t in texts])
    np.testing.assert_allclose(batch, singles, atol=1e-6)


def test_matches_model2vec_reference_vectors(embedder: StaticEmbedder) -> None:
    # leading components from model2vec 0.10.0 StaticModel.encode on the same distillation
    expected = {
        "Hey Mel! Good to see you! How have you been?": [
            0.0118, -0.2896, -0.0446, -0.2913, -0.0974, -0.4243,
        ],
        "When did Caroline go to the LGBTQ support group?": [
            -0.0433, -0.1945, 0.0222, -0.1943, -0.0258, -0.2693,
        ],
    }  # fmt: skip
    vectors = embedder.embed(list(expected))
    for row, leading in zip(vectors, expected.values(), strict=True):
        np.testing.assert_allclose(row[:6], leading, atol=2e-3)


@pytest.mark.parametrize("text", ["", "   ", "\n\t  \r", "🎉🎉 🙌", "\x00\x01\u200b", "\ue000"])
def test_text_without_known_tokens_is_the_zero_vector(embedder: StaticEmbedder, text: str) -> None:
    # decided: zero vector (scores 0 against everything), like HashingEmbedder on empty text
    vector = embedder.embed([text])
    assert vector.shape == (1, DIMS)
    assert not np.any(vector)
    assert np.all(np.isfinite(vector))


def test_all_unknown_rows_do_not_disturb_their_neighbours(embedder: StaticEmbedder) -> None:
    vectors = embedder.embed(["🎉", "good morning", "", "good morning"])
    assert not np.any(vectors[0])
    assert not np.any(vectors[2])
    np.testing.assert_allclose(vectors[1], vectors[3], atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(vectors[1]), 1.0, atol=1e-5)


def test_unicode_is_normalised_like_bert_uncased(embedder: StaticEmbedder) -> None:
    plain, accented = embedder.embed(["cafe resume naive", "Café RÉSUMÉ naïve"])
    np.testing.assert_allclose(plain, accented, atol=1e-6)
    vectors = embedder.embed(
        ["東京で寿司を食べました。", "emoji 🎉 mixed ΟΔΟΣ", "lone \ud800 surrogate"]
    )
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_huge_input_is_truncated_like_model2vec(embedder: StaticEmbedder) -> None:
    words = " ".join(f"word{i}" for i in range(200_000))  # ~1.5 MB
    vector = embedder.embed([words])
    np.testing.assert_allclose(np.linalg.norm(vector), 1.0, atol=1e-5)
    # only the first 512 * 6 characters count, then at most 512 pieces
    np.testing.assert_array_equal(vector, embedder.embed([words[:3072]]))
    assert len(embedder.token_ids(words)) == 512
    assert embedder.tokens("x" * 101) == ["[UNK]"]  # words over 100 characters
    assert embedder.tokens("x" * 100) != ["[UNK]"]


# Expected pieces from the Hugging Face tokenizer of all-MiniLM-L6-v2 itself
# (transformers 5.3.0 AutoTokenizer -> BertTokenizer, `tokenizer.tokenize(text)`).
WORDPIECE_FIXTURES = [
    ("Hello, world!", ["hello", ",", "world", "!"]),
    ("unaffable", ["una", "##ffa", "##ble"]),
    (
        "I went to the LGBTQ support group yesterday.",
        ["i", "went", "to", "the", "lgbt", "##q", "support", "group", "yesterday", "."],
    ),
    ("Café résumé naïve — déjà vu", ["cafe", "resume", "naive", "—", "de", "##ja", "vu"]),
    (
        "It's 10:30pm; email me@example.com!",
        "it ' s 10 : 30 ##pm ; email me @ example . com !".split(),
    ),
    ("東京で寿司", ["東", "京", "て", "[UNK]", "司"]),
    (
        "supercalifragilisticexpialidocious",
        "super ##cal ##if ##rag ##ilis ##tic ##ex ##pia ##lid ##oc ##ious".split(),
    ),
    ("🎉 party", ["[UNK]", "party"]),
    ("Don't stop-believing...", ["don", "'", "t", "stop", "-", "believing", ".", ".", "."]),
    # Greek capitals, lowercased without the final-sigma rule: omicron, delta, omicron, sigma
    ("\u039f\u0394\u039f\u03a3", ["\u03bf", "##\u03b4", "##\u03bf", "##\u03c3"]),
    ("a\u200bb\x0bc", ["abc"]),  # zero-width space and vertical tab are deleted, not split on
]


@pytest.mark.parametrize(("text", "pieces"), WORDPIECE_FIXTURES)
def test_wordpiece_matches_bert_tokenizer(
    embedder: StaticEmbedder, text: str, pieces: list[str]
) -> None:
    assert embedder.tokens(text) == pieces


@pytest.mark.parametrize(
    ("anchor", "similar", "unrelated"),
    [
        (
            "I adopted a puppy last week.",
            "We just got a new dog.",
            "The quarterly tax report is due.",
        ),
        (
            "My daughter started painting lessons.",
            "She is learning to paint.",
            "The car needs tires.",
        ),
        (
            "I went hiking in the mountains.",
            "We did a trek up the hills.",
            "I bought a phone charger.",
        ),
        (
            "What did Melanie paint recently?",
            "Melanie showed me her new painting of a sunset.",
            "Caroline's flight to Sweden was delayed.",
        ),
    ],
)
def test_similar_sentences_score_higher(
    embedder: StaticEmbedder, anchor: str, similar: str, unrelated: str
) -> None:
    assert _cos(embedder, anchor, similar) > _cos(embedder, anchor, unrelated) + 0.1


def test_a_single_string_is_refused(embedder: StaticEmbedder) -> None:
    with pytest.raises(InvalidInputError):
        embedder.embed("not a list")  # a str is a Sequence[str]: easy to pass by mistake


def test_table_loads_on_first_embed_not_on_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(static, "_models", {})
    fresh = StaticEmbedder()
    assert fresh.name == "static-minilm-256-v1"
    assert fresh.dimensions == DIMS
    assert static._models == {}
    fresh.embed(["hello"])
    assert len(static._models) == 1
    StaticEmbedder().embed(["again"])
    assert len(static._models) == 1  # shared by every embedder on the same artifact


def test_word_cache_is_bounded(monkeypatch: pytest.MonkeyPatch, embedder: StaticEmbedder) -> None:
    monkeypatch.setattr(static, "_CACHE_LIMIT", 50)
    embedder.embed([" ".join(f"w{i}x" for i in range(500))])
    assert len(static._models[""].cache) <= 50


def test_concurrent_embeds_agree(embedder: StaticEmbedder) -> None:
    texts = [f"message number {i} about cooking pasta" for i in range(200)]
    expected = embedder.embed(texts)
    results: list[np.ndarray] = []

    def work() -> None:
        results.append(StaticEmbedder().embed(texts))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4
    for result in results:
        np.testing.assert_array_equal(result, expected)


def test_bad_artifact_is_a_config_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a zip file")
    with pytest.raises(ConfigError):
        _ = StaticEmbedder(broken).dimensions
    np.savez(tmp_path / "old.npz", format_version=np.asarray(0))
    with pytest.raises(ConfigError):
        StaticEmbedder(tmp_path / "old.npz").embed(["x"])
