"""`tiermem.testing`: the event recorder sees what a real memory does, in order."""

from __future__ import annotations

import threading

from tiermem import MemoryConfig, TieredMemory
from tiermem.callbacks import ContextBuilt, Summarized, ToolCalled, TurnAdded, TurnsEvicted
from tiermem.testing import RecordingCallback
from tiermem.tools import ToolRegistry


def test_records_a_memorys_events_in_order() -> None:
    recorder = RecordingCallback()
    config = MemoryConfig(short_term={"max_tokens": 60}, medium_term={"trigger_tokens": 40})
    with TieredMemory("memory://", config=config, callbacks=[recorder]) as mem:
        for i in range(12):
            mem.add_message("user", f"Turn {i}: the ferry to Faro leaves at {i} o'clock.")
        mem.build_context("when does the ferry leave?", max_tokens=200)
    names = [e.name for e in recorder.events]
    assert names.count("turn_added") == 12
    assert recorder.of(TurnsEvicted)
    assert recorder.of(Summarized)
    assert names.index("turns_evicted") > names.index("turn_added")
    (built,) = recorder.of(ContextBuilt)
    assert names[-1] == "context_built"
    assert built.token_count <= built.max_tokens == 200
    assert all(isinstance(e, TurnAdded) for e in recorder.of(TurnAdded))
    recorder.clear()
    assert recorder.events == []


def test_is_safe_across_threads() -> None:
    recorder = RecordingCallback()
    with ToolRegistry(callbacks=[recorder]) as registry:
        registry.register(lambda n: n, name="echo")

        def calls() -> None:
            for i in range(50):
                registry.call("echo", {"n": i})

        threads = [threading.Thread(target=calls) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(recorder.of(ToolCalled)) == 200
