"""TieredMemory end to end on real LanceDB: tiers, lifecycle, restore after restart."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from tiermem import (
    InvalidInputError,
    Kind,
    LongTermConfig,
    MemoryConfig,
    MemoryRecord,
    MetricsCallback,
    NotFoundError,
    Tier,
    TieredMemory,
    TokenCounter,
)
from tiermem.context import exact_tokens, memory_line

FACTS = [
    "I moved to Lisbon in May 2023 with my partner Ana.",
    "My sister Clara is getting married on 14 June in Porto.",
    "We adopted a grey cat called Miso last winter.",
    "I started a new job at a bakery on Rua Augusta.",
    "My favourite band is Radiohead; I saw them in 2016.",
    "I run 10 km every Sunday morning along the river.",
    "Ana is learning the violin and practises every evening.",
    "Our flat has a balcony with tomatoes and basil.",
]


def chat(mem: TieredMemory, session: str = "s1", user: str | None = "u1") -> list[MemoryRecord]:
    out = []
    for i, fact in enumerate(FACTS):
        out.append(mem.add_message("user", fact, session_id=session, user_id=user))
        out.append(mem.add_message("assistant", f"Noted, thanks ({i}).", session_id=session,
                                   user_id=user))  # fmt: skip
    return out


def test_every_turn_is_kept_verbatim_with_its_sequence(mem: TieredMemory) -> None:
    added = chat(mem)
    assert [r.seq for r in added] == list(range(len(added)))
    stored = mem.get(added[0].id)
    assert stored.text == FACTS[0]
    assert (stored.role, stored.session_id, stored.user_id) == ("user", "s1", "u1")
    assert mem.stats()["turns"] == len(added)


def test_evicted_turns_fold_into_bounded_rolling_summaries(mem: TieredMemory) -> None:
    added = chat(mem)
    stats = mem.stats()
    session = stats["sessions"]["s1"]
    assert session["short_term_tokens"] <= mem.config.short_term.max_tokens
    assert 1 <= session["summaries"] <= mem.config.medium_term.max_summaries
    summaries = [h.record for h in mem.search("summary Lisbon sister cat", k=50)
                 if h.record.kind is Kind.SUMMARY]  # fmt: skip
    assert summaries
    by_seq = {r.seq: r.id for r in added}
    spans = sorted((s.covered_seqs for s in summaries), key=lambda span: span.start)
    covered = [seq for span in spans for seq in span]
    assert len(covered) == len(set(covered))  # merged summaries cover each turn once
    assert set(covered) <= set(by_seq)
    # the oldest turns were evicted and are covered, in order of the conversation
    assert covered[0] == 0
    assert all(a.stop <= b.start for a, b in itertools.pairwise(spans))
    for summary in summaries:  # ids are listed by a summary folded from turns only
        assert set(summary.covers) <= {by_seq[seq] for seq in summary.covered_seqs}


def test_a_merged_summary_stores_a_span_not_every_id(config: MemoryConfig) -> None:
    # the oldest summary of a long session stands for nearly all of it: its row must
    # not grow with the session (it used to list every turn id, rewritten at each merge)
    with TieredMemory("memory://", config=config) as mem:
        for i in range(400):
            mem.add_message("user", f"Turn {i}: Ana booked the ferry to Faro for {i} euros.",
                            session_id="long")  # fmt: skip
        summaries = mem.records(session_id="long", kinds=["summary"])
    assert len(summaries) <= config.medium_term.max_summaries
    oldest = min(summaries, key=lambda s: s.seq)
    assert oldest.covered_seqs.start == 0
    assert len(oldest.covered_seqs) > 100
    assert oldest.covers == ()
    assert len(json.dumps(dict(oldest.metadata))) < 100
    assert f"summary of {len(oldest.covered_seqs)} earlier turns" in memory_line(oldest)


def test_extractive_summary_keeps_names_numbers_and_dates(mem: TieredMemory) -> None:
    chat(mem)
    texts = " ".join(
        h.record.text for h in mem.search("Lisbon Clara June", k=50)
        if h.record.kind is Kind.SUMMARY
    )  # fmt: skip
    assert "Lisbon" in texts or "Clara" in texts
    assert any(ch.isdigit() for ch in texts)


def test_short_term_is_restored_after_restart(store_dir: Path, config: MemoryConfig) -> None:
    with TieredMemory(store_dir, config=config) as mem:
        chat(mem)
        before = mem.build_context("cat", session_id="s1", user_id="u1", max_tokens=400)
        stats = mem.stats()["sessions"]["s1"]
    with TieredMemory(store_dir, config=config) as mem:
        after = mem.build_context("cat", session_id="s1", user_id="u1", max_tokens=400)
        assert after.messages == before.messages
        restored = mem.stats()["sessions"]["s1"]
        assert restored["short_term_turns"] == stats["short_term_turns"]
        assert restored["summaries"] == stats["summaries"]
        nxt = mem.add_message("user", "one more", session_id="s1", user_id="u1")
        assert nxt.seq == len(FACTS) * 2


def test_remember_search_with_tags_and_score_parts(mem: TieredMemory) -> None:
    chat(mem)
    pref = mem.remember("Prefers answers in Portuguese", user_id="u1", importance=0.9,
                        tags=["pref"])  # fmt: skip
    mem.remember("Allergic to peanuts", user_id="u1", tags=["health"])
    hits = mem.search("which language should answers use? Portuguese", user_id="u1", k=3)
    assert hits[0].record.id == pref.id
    parts = hits[0].parts
    assert parts.text > 0
    assert parts.vector > 0
    assert parts.importance == pytest.approx(0.9)
    assert 0 <= parts.recency <= 1
    tagged = mem.search("answers", user_id="u1", tags=["health"])
    assert [h.record.text for h in tagged] == ["Allergic to peanuts"]


def test_build_context_fits_budget_and_explains_itself(mem: TieredMemory) -> None:
    chat(mem)
    mem.remember("Prefers answers in Portuguese", user_id="u1", importance=0.9)
    ctx = mem.build_context("Where did I move to?", session_id="s1", user_id="u1",
                            max_tokens=300)  # fmt: skip
    assert 0 < ctx.token_count <= 300
    assert ctx.token_count == exact_tokens(mem.token_counter, ctx.messages)
    assert "Lisbon in May 2023" in ctx.text  # the evicted fact was retrieved verbatim
    memory_block = ctx.messages[0]
    assert memory_block["role"] == "system"
    assert re.search(r"\n\[\d{4}-\d{2}-\d{2}[ \]]", memory_block["content"])  # a dated heading
    assert ctx.messages[-1]["content"] == "Noted, thanks (7)."  # the newest turn is kept
    explained = ctx.explain()
    assert explained.count("\n") == len(ctx.decisions)
    assert "KEPT short_term" in explained
    assert "LEFT" in explained
    tiers = {c.tier for c in ctx.kept}
    assert Tier.SHORT_TERM in tiers
    assert Tier.LONG_TERM in tiers


def test_a_summary_gives_way_to_the_relevant_turns_it_covers(mem: TieredMemory) -> None:
    chat(mem)
    ctx = mem.build_context("sister wedding Porto Lisbon cat", session_id="s1", user_id="u1",
                            max_tokens=2000)  # fmt: skip
    summaries = [d for d in ctx.decisions if d.candidate.tier is Tier.MEDIUM_TERM]
    assert summaries
    # room for everything: the facts are there verbatim, and the summary would repeat them
    for fact in FACTS[:3]:
        assert fact in ctx.text
    assert all(not d.kept and d.reason.startswith("covered: its ") for d in summaries)
    assert "covered: its " in ctx.explain()


def test_without_a_query_the_last_user_turn_drives_retrieval(mem: TieredMemory) -> None:
    chat(mem)
    mem.add_message("user", "Remind me, what is the cat called?", session_id="s1", user_id="u1")
    ctx = mem.build_context(session_id="s1", user_id="u1", max_tokens=250)
    assert "Miso" in ctx.text


def test_tool_call_is_never_split_from_its_result(mem: TieredMemory) -> None:
    calls = [{"id": "call_1", "type": "function",
              "function": {"name": "weather", "arguments": '{"city": "Porto"}'}}]  # fmt: skip
    mem.add_message("user", "What's the weather in Porto?", session_id="t")
    mem.add_message("assistant", "Let me check.", session_id="t", metadata={"tool_calls": calls})
    mem.add_message("tool", "18°C and sunny", session_id="t",
                    metadata={"tool_call_id": "call_1"})  # fmt: skip
    mem.add_message("assistant", "It is 18°C and sunny in Porto.", session_id="t")
    for budget in range(10, 200, 7):
        ctx = mem.build_context("weather", session_id="t", max_tokens=budget)
        roles = [m["role"] for m in ctx.messages]
        has_call = any("tool_calls" in m for m in ctx.messages)
        assert ("tool" in roles) == has_call, (budget, roles)
        if has_call:
            call_index = next(i for i, m in enumerate(ctx.messages) if "tool_calls" in m)
            assert ctx.messages[call_index + 1]["tool_call_id"] == "call_1"
        assert ctx.token_count <= budget


def test_update_and_forget(mem: TieredMemory) -> None:
    record = mem.remember("Lives in Lisbon", user_id="u1")
    updated = mem.update(record.id, text="Lives in Porto", importance=0.8, tags=["home"])
    assert (updated.text, updated.importance, updated.tags) == ("Lives in Porto", 0.8, ("home",))
    assert mem.get(record.id).text == "Lives in Porto"
    assert mem.search("Porto", user_id="u1")[0].record.id == record.id
    mem.forget(record.id)
    with pytest.raises(NotFoundError, match="memory_id"):
        mem.get(record.id)
    with pytest.raises(NotFoundError):
        mem.forget(record.id)


def test_forgetting_a_recent_turn_removes_it_from_the_context(mem: TieredMemory) -> None:
    secret = mem.add_message("user", "my door code is 4321", session_id="s9")
    mem.forget(secret.id)
    ctx = mem.build_context("door code", session_id="s9", max_tokens=500)
    assert "4321" not in ctx.text


class CountingSummarizer:
    """A stand-in for an LLM summarizer: the protocol is all tiermem sees."""

    def __init__(self) -> None:
        self.calls = 0

    def summarize(
        self, records: Sequence[MemoryRecord], *, max_tokens: int, token_counter: TokenCounter
    ) -> str:
        self.calls += 1
        return f"{len(records)} turns about " + ", ".join(r.text.split()[0] for r in records)


def test_a_custom_summarizer_plugs_in(config: MemoryConfig) -> None:
    summarizer = CountingSummarizer()
    with TieredMemory("memory://", config=config, summarizer=summarizer) as mem:
        chat(mem)
        assert summarizer.calls >= 1
        hits = mem.search("turns about", k=20)
        assert any(h.record.kind is Kind.SUMMARY and "turns about" in h.record.text
                   for h in hits)  # fmt: skip


def test_metrics_callback_sees_what_happens(config: MemoryConfig) -> None:
    metrics = MetricsCallback()
    with TieredMemory("memory://", config=config, callbacks=[metrics]) as mem:
        chat(mem)
        mem.build_context("cat", session_id="s1", user_id="u1", max_tokens=300)
        mem.search("cat", user_id="u1")
        snapshot = mem.stats()["metrics"]
    counters = snapshot["counters"]
    assert counters["turns_added"] == len(FACTS) * 2
    assert counters["turns_evicted"] > 0
    assert counters["summaries"] >= 1
    assert counters["contexts"] == 1
    assert counters["searches"] == 1
    latency = snapshot["latency"]["build_context"]
    assert latency["count"] == 1
    assert latency["p50"] > 0


def test_closed_by_context_manager(store_dir: Path) -> None:
    with TieredMemory(store_dir) as mem:
        mem.add_message("user", "hello")
    assert mem._closed


def test_export_then_import_reproduces_every_record_and_vector(
    mem: TieredMemory, config: MemoryConfig
) -> None:
    chat(mem)
    mem.remember("Prefers tea", user_id="u1", tags=["pref"], metadata={"source": "chat"})
    exported = list(mem.export_records(batch_size=7))
    assert len(exported) == mem.stats()["records"]
    with TieredMemory("memory://", config=config) as copy:
        assert copy.import_records(exported, batch_size=5) == len(exported)
        assert copy.import_records(exported) == len(exported)  # idempotent by id
        again = {r.id: (r, vec) for r, vec in copy.export_records()}
        assert len(again) == len(exported)
        for record, vector in exported:
            assert again[record.id][0] == record
            assert (again[record.id][1] == vector).all()
        ctx = copy.build_context("cat", session_id="s1", user_id="u1", max_tokens=300)
        assert ctx.messages[-1]["content"] == "Noted, thanks (7)."  # sessions restore too


async def test_async_export_import(mem: TieredMemory, config: MemoryConfig) -> None:
    await mem.aadd_message("user", "hello async world", session_id="a")
    exported = [item async for item in mem.aexport_records()]
    with TieredMemory("memory://", config=config) as copy:
        assert await copy.aimport_records(exported) == 1
        assert (await copy.asearch("async world"))[0].record.text == "hello async world"


def test_add_messages_writes_a_batch_through_the_tiers(mem: TieredMemory) -> None:
    messages = [{"role": ("user", "assistant")[i % 2], "content": f"{fact} ({i})"}
                for i, fact in enumerate(FACTS * 2)]  # fmt: skip
    records = mem.add_messages(messages, session_id="bulk", user_id="u1")
    assert [r.seq for r in records] == list(range(len(messages)))
    assert mem.stats()["turns"] == len(messages)
    session = mem.stats()["sessions"]["bulk"]
    assert session["short_term_tokens"] <= mem.config.short_term.max_tokens
    assert session["summaries"] >= 1
    ctx = mem.build_context("cat name", session_id="bulk", user_id="u1", max_tokens=400)
    assert ctx.messages[-1]["content"] == messages[-1]["content"]


def test_add_messages_validates_everything_before_writing(mem: TieredMemory) -> None:
    bad = [{"role": "user", "content": "fine"}, {"role": "user", "content": ""}]
    with pytest.raises(InvalidInputError) as info:
        mem.add_messages(bad)
    assert info.value.argument == "messages[1].content"
    with pytest.raises(InvalidInputError, match=r"messages\[0\]: has unknown keys"):
        mem.add_messages([{"role": "user", "content": "x", "colour": "red"}])
    assert mem.stats()["turns"] == 0


def test_background_upkeep_compacts_and_indexes(config: MemoryConfig) -> None:
    metrics = MetricsCallback()
    tuned = config.model_copy(update={"long_term": LongTermConfig(optimize_every=20)})
    with TieredMemory("memory://", config=tuned, callbacks=[metrics]) as mem:
        for i in range(45):
            mem.add_message("user", f"turn {i}", session_id="k")
        mem._maintainer.wait()
        assert metrics.snapshot()["counters"]["store_maintenance"] >= 1
        assert mem.stats()["turns"] == 45  # nothing lost while compacting


def test_records_lists_a_scope_in_conversation_order(mem: TieredMemory) -> None:
    added = chat(mem)
    chat(mem, session="s2", user="u2")
    mem.remember("Prefers tea", user_id="u1", tags=["pref"])
    turns = mem.records(session_id="s1", kinds=["turn"])
    assert [r.id for r in turns] == [r.id for r in added]
    assert [r.text for r in mem.records(user_id="u1", tags=["pref"])] == ["Prefers tea"]
    assert {r.user_id for r in mem.records(user_id="u2")} == {"u2"}
    with pytest.raises(InvalidInputError, match="kinds"):
        mem.records(kinds=["nonsense"])


def test_forget_scope_removes_a_session_and_only_it(mem: TieredMemory) -> None:
    chat(mem)
    chat(mem, session="s2")
    removed = mem.forget_scope(session_id="s1")
    assert removed > len(FACTS) * 2 - 1  # the turns and their summaries
    assert mem.records(session_id="s1") == []
    assert mem.records(session_id="s2")
    ctx = mem.build_context("cat", session_id="s1", max_tokens=300)
    assert ctx.messages == []
    with pytest.raises(InvalidInputError, match="scope"):
        mem.forget_scope()


async def test_async_records_and_forget_scope(mem: TieredMemory) -> None:
    await mem.aadd_message("user", "hello", session_id="x")
    assert [r.text for r in await mem.arecords(session_id="x")] == ["hello"]
    assert await mem.aforget_scope(session_id="x") == 1


def test_tool_calling_turns_may_be_empty(mem: TieredMemory) -> None:
    calls = [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    mem.add_message("user", "run f", session_id="t")
    mem.add_message("assistant", "", session_id="t", metadata={"tool_calls": calls})
    mem.add_message("tool", "", session_id="t", metadata={"tool_call_id": "c1"})
    ctx = mem.build_context("f", session_id="t", max_tokens=300)
    assert [m["content"] for m in ctx.messages[-2:]] == ["", ""]
    with pytest.raises(InvalidInputError, match="content"):
        mem.add_message("assistant", "", session_id="t")


def _two_friends(mem: TieredMemory) -> None:
    lines = [
        ("Bob", "What did you name the puppy you adopted?"), ("Ann", "Biscuit, after his colour!"),
        ("Ann", "I love hiking in the mountains."), ("Bob", "I love hiking in the mountains."),
        ("Bob", "Anyway, how is work?"), ("Ann", "Busy, we open a new shop in June."),
    ]  # fmt: skip
    for name, text in lines:
        role = "user" if name == "Ann" else "assistant"
        mem.add_message(role, text, session_id="chat", user_id="u2", metadata={"name": name})


def test_the_speaker_a_question_names_comes_first(mem: TieredMemory) -> None:
    _two_friends(mem)
    hits = mem.search("Does bob love hiking in the mountains?", user_id="u2", k=10)
    tied = [h for h in hits if h.record.text == "I love hiking in the mountains."]
    assert [h.record.speaker for h in tied] == ["Bob", "Ann"]
    assert tied[1].parts.speaker == mem.config.retrieval.other_speaker_weight


def test_an_answer_comes_with_the_question_it_answers(mem: TieredMemory) -> None:
    _two_friends(mem)
    # the answer shares no word with the query; the question before it does. Room for one
    ctx = mem.build_context("What name did Ann give the puppy she adopted?", session_id="q",
                            user_id="u2", max_tokens=45)  # fmt: skip
    assert "Biscuit, after his colour!" in ctx.text
    answer = next(c for c in ctx.kept if c.records[0].text.startswith("Biscuit"))
    assert answer.parts is not None
    assert answer.parts.neighbor > 0
