"""The public names are a contract: this test changes only with a deprecation path."""

import tiermem


def test_top_level_exports_are_pinned() -> None:
    assert tiermem.__all__ == [
        "CallbackHandler",
        "ChatMessage",
        "ConfigError",
        "ConsolidationReport",
        "Context",
        "ContextConfig",
        "Decision",
        "Embedder",
        "ExtractiveSummarizer",
        "ForgetReport",
        "FunctionEmbedder",
        "HashingEmbedder",
        "HealthConfig",
        "HealthReport",
        "HotConfig",
        "InvalidInputError",
        "Kind",
        "LongTermConfig",
        "MediumTermConfig",
        "MemoryConfig",
        "MemoryRecord",
        "Merge",
        "MessageTooLargeError",
        "MetricsCallback",
        "NotFoundError",
        "PromptSummarizer",
        "RetrievalConfig",
        "SchemaVersionError",
        "Scope",
        "ScoreParts",
        "SearchHit",
        "ShortTermConfig",
        "StaticEmbedder",
        "StoreError",
        "Summarizer",
        "Tier",
        "TieredMemory",
        "TieredMemoryError",
        "TiktokenCounter",
        "TokenCounter",
        "TokenizerError",
        "__version__",
    ]
    for name in tiermem.__all__:
        assert hasattr(tiermem, name), name


def test_error_tree_has_builtin_mixins() -> None:
    assert issubclass(tiermem.ConfigError, ValueError)
    assert issubclass(tiermem.InvalidInputError, ValueError)
    assert issubclass(tiermem.MessageTooLargeError, tiermem.InvalidInputError)
    assert issubclass(tiermem.NotFoundError, KeyError)
    assert issubclass(tiermem.SchemaVersionError, tiermem.StoreError)
    for name in ("ConfigError", "InvalidInputError", "NotFoundError", "StoreError",
                 "TokenizerError"):  # fmt: skip
        assert issubclass(getattr(tiermem, name), tiermem.TieredMemoryError)


def test_package_is_typed() -> None:
    from importlib.resources import files

    assert files("tiermem").joinpath("py.typed").is_file()


def test_testing_helpers_are_pinned() -> None:
    import tiermem.testing

    assert tiermem.testing.__all__ == ["RecordingCallback"]
