"""The OpenAI Agents SDK adapter's surface: pinned exports, typed."""

from __future__ import annotations

from pathlib import Path

import openai_agents_tiermem


def test_exported_names_are_pinned() -> None:
    assert openai_agents_tiermem.__all__ == [
        "TieredContextSession",
        "TieredSession",
        "record_items",
        "turns_from_items",
    ]
    for name in openai_agents_tiermem.__all__:
        assert getattr(openai_agents_tiermem, name) is not None
    assert (Path(openai_agents_tiermem.__file__).parent / "py.typed").is_file()
