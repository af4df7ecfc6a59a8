"""Configuration: frozen, strict, explicit; errors name the field and the rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from tiermem import ConfigError, MemoryConfig, ShortTermConfig


def test_defaults_work_and_are_frozen() -> None:
    config = MemoryConfig()
    assert config.tokenizer == "o200k_base"
    with pytest.raises(Exception, match="frozen"):
        config.tokenizer = "cl100k_base"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"short_term": {"max_tokens": 0}}, "short_term.max_tokens: Input should be greater"),
        ({"tokenizer": "nope"}, "tokenizer: 'nope' is neither"),
        ({"surprise": 1}, "surprise: Extra inputs are not permitted"),
        ({"context": {"recent_share": 1.5}}, "context.recent_share"),
        ({"retrieval": {"text_weight": 0, "vector_weight": 0}}, "must be greater than 0"),
    ],
)
def test_invalid_values_raise_config_error(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        MemoryConfig(**kwargs)  # type: ignore[arg-type]


def test_groups_validate_on_their_own() -> None:
    with pytest.raises(ConfigError, match="max_tokens"):
        ShortTermConfig(max_tokens=-1)


def test_from_env_nests_with_double_underscore() -> None:
    config = MemoryConfig.from_env(
        {"TIERMEM_TOKENIZER": "gpt-4o", "TIERMEM_SHORT_TERM__MAX_TOKENS": "321", "HOME": "/x"}
    )
    assert config.tokenizer == "gpt-4o"
    assert config.short_term.max_tokens == 321
    with pytest.raises(ConfigError, match=r"short_term\.max_tokens"):
        MemoryConfig.from_env({"TIERMEM_SHORT_TERM__MAX_TOKENS": "lots"})


def test_from_file_reads_toml(tmp_path: Path) -> None:
    path = tmp_path / "tiermem.toml"
    path.write_text('[tiermem]\ntokenizer = "cl100k_base"\n[tiermem.context]\nmax_tokens = 900\n')
    config = MemoryConfig.from_file(path)
    assert (config.tokenizer, config.context.max_tokens) == ("cl100k_base", 900)
    path.write_text("not = [toml")
    with pytest.raises(ConfigError, match=r"tiermem\.toml"):
        MemoryConfig.from_file(path)


def test_for_model_sizes_budgets_from_the_window() -> None:
    small = MemoryConfig.for_model("gpt-4")
    large = MemoryConfig.for_model("gpt-4o")
    assert small.context.max_tokens == 8_192 // 4
    assert large.context.max_tokens == 16_000
    assert large.short_term.max_tokens < large.context.max_tokens
    with pytest.raises(ConfigError, match="model"):
        MemoryConfig.for_model("unknown-model")
