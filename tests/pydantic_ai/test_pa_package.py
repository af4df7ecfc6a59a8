"""The pydantic-ai adapter's surface: pinned exports, typed."""

from __future__ import annotations

from pathlib import Path

import pydantic_ai_tiermem


def test_exported_names_are_pinned() -> None:
    assert pydantic_ai_tiermem.__all__ == ["TieredHistory", "records_to_messages", "turns_of"]
    for name in pydantic_ai_tiermem.__all__:
        assert getattr(pydantic_ai_tiermem, name) is not None
    assert (Path(pydantic_ai_tiermem.__file__).parent / "py.typed").is_file()
