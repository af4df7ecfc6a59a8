"""The command line, through typer's test runner, on real stores in temp folders."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

import tiermem
from tiermem import TieredMemory
from tiermem.cli import app, load_sample

runner = CliRunner()
# rich sizes tables to the terminal; pin a narrow one so layout tests are deterministic
ENV = {"COLUMNS": "80", "NO_COLOR": "1"}
COMMANDS = ["demo", "ingest", "search", "context", "stats", "optimize", "export", "import",
            "remember", "forget", "list"]  # fmt: skip
LOCOMO = [
    {
        "sample_id": "conv-1",
        "conversation": {
            "speaker_a": "Caroline",
            "speaker_b": "Melanie",
            "session_1_date_time": "1:56 pm on 8 May, 2023",
            "session_1": [
                {"speaker": "Caroline", "dia_id": "D1:1", "text": "I went to a support group."},
                {
                    "speaker": "Melanie",
                    "dia_id": "D1:2",
                    "text": "Look at my pottery!",
                    "blip_caption": "a photo of a clay bowl",
                },
            ],
            "session_2_date_time": "10:37 am on 27 June, 2023",
            "session_2": [
                {"speaker": "Melanie", "dia_id": "D2:1", "text": "I ran a charity race."},
            ],
        },
        "qa": [{"question": "ignored", "answer": "ignored", "category": 4}],
    }
]


def run(*args: str) -> Result:
    return runner.invoke(app, list(args), env=ENV)


def ok(*args: str) -> Result:
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result


def as_json(*args: str) -> Any:
    return json.loads(ok(*args, "--json").stdout)


def sample_jsonl(path: Path) -> Path:
    sample = load_sample()
    with path.open("w", encoding="utf-8") as out:
        for session in sample["sessions"]:
            for turn in session["turns"]:
                line = {
                    "role": turn["role"],
                    "content": turn["content"],
                    "session_id": session["session_id"],
                    "timestamp": session["start"],
                }
                out.write(json.dumps(line) + "\n")
    return path


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The demo conversation, ingested once for the read-only tests."""
    folder = tmp_path_factory.mktemp("cli")
    path = sample_jsonl(folder / "chat.jsonl")
    result = ok("ingest", str(path), "--store", str(folder / "store"), "--user", "maya",
                "--tokenizer", "cl100k_base")  # fmt: skip
    assert "Ingested 23 messages (jsonl, 3 sessions)" in result.stdout
    assert "messages/s" in result.stdout
    return str(folder / "store")


def test_demo_ingests_the_sample_and_explains_a_budgeted_context(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "--store", str(tmp_path / "demo"), "--max-tokens", "250"])
    assert result.exit_code == 0, result.output
    assert "Stored 23 turns" in result.output
    assert "allowed lateness of 24 hours" in result.output  # retrieved from March
    assert "context: " in result.output
    assert "/250 tokens" in result.output
    with TieredMemory(tmp_path / "demo") as mem:
        assert mem.stats()["turns"] == 23


def test_help_lists_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = ok(command, "--help")
    assert "Usage:" in result.output
    assert "--store" in result.output


def test_ingest_stores_jsonl_lines_with_their_scopes_and_times(store: str) -> None:
    with TieredMemory(store) as mem:
        hits = mem.search("allowed lateness", user_id="maya", session_id="2024-1", k=1)
        record = hits[0].record
    assert "allowed lateness of 24 hours" in record.text
    assert (record.role, record.user_id, record.session_id) == ("assistant", "maya", "2024-1")
    assert record.timestamp == datetime(2024, 3, 2, 10, 15, tzinfo=UTC)
    stats = as_json("stats", "--store", store)
    assert stats["turns"] == 23
    assert stats["embedder"] == "static-minilm-256-v1"
    with TieredMemory(store) as mem:
        in_session = mem.stats(session_id="2024-1")["turns"]
    assert 0 < in_session < 23
    scoped = as_json("stats", "--store", store, "--session", "2024-1")
    assert (scoped["turns"], scoped["scope"]) == (in_session, {"session_id": "2024-1"})
    assert as_json("stats", "--store", store, "--user", "nobody")["records"] == 0


def test_search_finds_within_the_scope_only(store: str) -> None:
    hits = as_json("search", "allowed lateness Antwerp", "--store", store, "--user", "maya")
    assert any("allowed lateness of 24 hours" in h["text"] for h in hits)
    assert {h["user_id"] for h in hits} == {"maya"}
    assert set(hits[0]["parts"]) == {"text", "vector", "recency", "importance", "speaker",
                                     "neighbor"}  # fmt: skip
    assert as_json("search", "allowed lateness", "--store", store, "--user", "someone") == []
    table = ok("search", "Antwerp", "--store", store, "--user", "maya", "-k", "2").stdout
    assert "Antwerp" in table
    assert max(len(line) for line in table.splitlines()) <= 80


def test_context_fits_the_budget_and_says_why(store: str) -> None:
    query = "What allowed lateness for Antwerp?"
    data = as_json("context", query, "--store", store, "--user", "maya", "--session", "2024-3",
                   "--max-tokens", "200")  # fmt: skip
    assert 0 < data["token_count"] <= data["max_tokens"] == 200
    assert any("24 hours" in m["content"] for m in data["messages"])
    kept = [d for d in data["decisions"] if d["kept"]]
    assert kept
    assert any(not d["kept"] for d in data["decisions"])
    plain = ok("context", query, "--store", store, "--user", "maya", "--max-tokens", "200").stdout
    assert "/200 tokens" in plain
    assert "allowed lateness of 24 hours" in plain  # the text is printed unbroken


def test_explain_table_is_readable_at_80_columns(store: str) -> None:
    query = "What allowed lateness for Antwerp?"
    result = ok("context", query, "--store", store, "--user", "maya", "--session", "2024-3",
                "--max-tokens", "150", "--explain")  # fmt: skip
    lines = result.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if "tier" in line and "score" in line)
    header, table = lines[start], lines[start:]
    assert max(len(line) for line in table) <= 80  # the messages above are printed unwrapped
    for column in ("tok", "parts", "reason / text"):
        assert column in header
    rows = [line for line in table if line.startswith(("kept ", "left "))]
    assert any(r.startswith("kept ") for r in rows)
    assert any(r.startswith("left ") for r in rows)
    assert any(" short " in r for r in rows)  # the session's recent turns
    assert any(" long " in r for r in rows)  # retrieved from earlier sessions
    assert "rank 1 by score" in result.stdout
    assert "over budget" in result.stdout
    # a preview wraps inside its column instead of being squeezed to nothing
    assert "Watermarks with an allowed" in result.stdout
    assert "t text (BM25)" in result.stdout


def test_ingest_reads_locomo_json(tmp_path: Path) -> None:
    path = tmp_path / "locomo.json"
    path.write_text(json.dumps(LOCOMO), encoding="utf-8")
    data = as_json("ingest", str(path), "--store", str(tmp_path / "s"))
    assert (data["format"], data["messages"], data["sessions"]) == ("locomo", 3, 2)
    with TieredMemory(tmp_path / "s") as mem:
        hits = mem.search("support group pottery charity race", user_id="conv-1")
    records = {h.record.metadata["dia_id"]: h.record for h in hits}
    assert set(records) == {"D1:1", "D1:2", "D2:1"}
    first, photo, later = records["D1:1"], records["D1:2"], records["D2:1"]
    assert (first.role, first.session_id, first.user_id) == ("user", "session_1", "conv-1")
    assert first.metadata == {"name": "Caroline", "dia_id": "D1:1"}
    assert first.timestamp == datetime(2023, 5, 8, 13, 56, tzinfo=UTC)
    assert photo.role == "assistant"
    assert photo.speaker == "Melanie"
    assert photo.text == "Look at my pottery! [shares a photo: a photo of a clay bowl]"
    assert (later.session_id, later.timestamp.date().isoformat()) == ("session_2", "2023-06-27")


def test_export_import_export_is_lossless(store: str, tmp_path: Path) -> None:
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    ok("export", str(first), "--store", store)
    copy = str(tmp_path / "copy")
    assert as_json("import", str(first), "--store", copy)["records"] == 23
    ok("import", str(first), "--store", copy)  # by id: a second import does not duplicate
    ok("export", str(second), "--store", copy)
    lines = first.read_bytes().splitlines()
    assert json.loads(lines[0]) == {"tiermem_export": 1, "embedder": "static-minilm-256-v1",
                                    "dimensions": 256}  # fmt: skip
    assert len(lines) == 24
    assert sorted(lines) == sorted(second.read_bytes().splitlines())
    record = json.loads(lines[1])
    assert set(record) >= {"id", "kind", "text", "timestamp", "metadata", "tokens", "vector"}
    assert len(record["vector"]) == 256


def test_export_to_stdout_and_json_reports(store: str) -> None:
    result = ok("export", "-", "--store", store)
    assert result.stdout.splitlines()[0].startswith('{"tiermem_export": 1')
    assert len(result.stdout.splitlines()) == 24
    assert "Exported 23 records" in result.stderr
    assert as_json("optimize", "--store", store)["records"] == 23


def test_a_store_is_always_read_with_its_own_embedder(tmp_path: Path) -> None:
    path = tmp_path / "chat.jsonl"
    path.write_text('{"role": "user", "content": "We adopted a puppy called Rex."}\n')
    folder = str(tmp_path / "static")
    ok("ingest", str(path), "--store", folder, "--embedder", "static")
    assert as_json("stats", "--store", folder)["embedder"] == "static-minilm-256-v1"
    hits = as_json("search", "new dog", "--store", folder)  # semantic, no shared word
    assert hits[0]["text"] == "We adopted a puppy called Rex."
    result = run("ingest", str(path), "--store", folder, "--embedder", "hashing")
    assert result.exit_code == 1
    assert "uses 'static-minilm-256-v1'" in result.stderr
    exported = ok("export", "-", "--store", folder).stdout
    copy = str(tmp_path / "copy")
    result = runner.invoke(app, ["import", "-", "--store", copy, "--json"], input=exported, env=ENV)
    assert result.exit_code == 0, result.output
    assert as_json("stats", "--store", copy)["embedder"] == "static-minilm-256-v1"


def test_import_refuses_vectors_of_another_embedder(store: str, tmp_path: Path) -> None:
    path = tmp_path / "other.jsonl"
    path.write_text(json.dumps({"tiermem_export": 1, "embedder": "hashing-v1-64",
                                "dimensions": 64}) + "\n")  # fmt: skip
    result = run("import", str(path), "--store", store)
    assert result.exit_code == 1
    assert "'hashing-v1-64'; the store uses 'static-minilm-256-v1'" in result.stderr


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"role": "user", "content": "hi"}', '{"role": "user"'], "line 2: is not valid JSON"),
        (['{"role": "robot", "content": "hi"}'], "line 1: role: must be one of"),
        (['{"role": "user", "content": "hi", "mood": 1}'], "line 1: has unknown keys ['mood']"),
        (['{"role": "user", "content": "hi", "timestamp": "May"}'], "line 1.timestamp: must"),
        (['{"tiermem_export": 1}'], "line 1: has unknown keys"),
    ],
)
def test_bad_input_files_fail_in_one_line(tmp_path: Path, lines: list[str], message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run("ingest", str(path), "--store", str(tmp_path / "s"))
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ingest", "missing.jsonl"], "missing.jsonl: No such file or directory"),
        (["import", "missing.jsonl"], "missing.jsonl: No such file or directory"),
        (["stats", "--store", "nowhere"], "--store: no store at nowhere"),
        (["context", "--store", "{store}", "--max-tokens", "0"], "max_tokens: must be a positive"),
        (["stats", "--store", "{store}", "--tokenizer", "nope"], "tokenizer"),
        (["import", "{store}/../chat.jsonl", "--store", "{store}"], "must be the export header"),
    ],
)
def test_errors_print_one_line_and_exit_1(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run(*(a.format(store=store) for a in args))
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: ")
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not (tmp_path / "nowhere").exists()  # reading never creates a store


def test_usage_errors_exit_2() -> None:
    assert run("context", "--max-tokens", "many").exit_code == 2
    assert run("search").exit_code == 2


def _chatty_locomo() -> list[dict[str, Any]]:
    """Four sessions of greetings and thanks around a few facts, in LoCoMo's format."""
    pleasantries = [
        ("Caroline", "Hey Melanie! Good to see you!"),
        ("Melanie", "Hey Caroline! So good to hear from you!"),
        ("Caroline", "Thanks, Mel! You're the best."),
        ("Melanie", "Wow, Caroline! That's awesome!"),
        ("Caroline", "Thanks, Melanie! Totally agree."),
        ("Melanie", "Aww, thanks Caroline! Sounds great!"),
    ]
    facts = [
        ("Caroline", "I went to a LGBTQ support group yesterday and it was so powerful."),
        ("Melanie", "I ran a charity race for mental health last Saturday."),
        ("Caroline", "I'm keen on counseling or working in mental health."),
        ("Melanie", "We went camping at the lake with the kids in July."),
    ]
    conversation: dict[str, Any] = {"speaker_a": "Caroline", "speaker_b": "Melanie"}
    for n in range(1, 5):
        said = [*pleasantries, facts[n - 1], *pleasantries, *pleasantries]
        conversation[f"session_{n}_date_time"] = f"1:56 pm on {n} May, 2023"
        conversation[f"session_{n}"] = [
            {"speaker": speaker, "dia_id": f"D{n}:{i}", "text": text}
            for i, (speaker, text) in enumerate(said, start=1)
        ]
    return [{"sample_id": "conv-1", "conversation": conversation, "qa": []}]


def test_context_keeps_the_evidence_turn_not_pleasantry_summaries(tmp_path: Path) -> None:
    data = tmp_path / "locomo.json"
    data.write_text(json.dumps(_chatty_locomo()), encoding="utf-8")
    # a small window, so that most turns are evicted and folded into summaries
    settings = tmp_path / "tiermem.toml"
    settings.write_text(
        "[tiermem]\ntokenizer = 'cl100k_base'\n[tiermem.short_term]\nmax_tokens = 100\n"
        "[tiermem.medium_term]\ntrigger_tokens = 100\n",
        encoding="utf-8",
    )
    store = str(tmp_path / "store")
    ok("ingest", str(data), "--store", store, "--config", str(settings))
    with TieredMemory(store) as mem:
        summaries = mem.records(user_id="conv-1", kinds=["summary"])
    assert summaries
    summarised = "\n".join(s.text for s in summaries)
    assert "support group yesterday" in summarised
    assert "Thanks, Mel" not in summarised
    assert "Hey Melanie" not in summarised
    built = as_json(
        "context", "When did Caroline go to the LGBTQ support group?", "--store", store,
        "--user", "conv-1", "--max-tokens", "500", "--config", str(settings),
    )  # fmt: skip
    text = "\n".join(m["content"] for m in built["messages"])
    assert "Caroline: I went to a LGBTQ support group yesterday and it was so powerful." in text
    # everything relevant fits verbatim: no summary repeats it
    kept = [d for d in built["decisions"] if d["kept"] and d["preview"].startswith("summary:")]
    assert kept == []


def test_demo_without_a_store_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    result = ok("demo", "--max-tokens", "200")
    assert "Stored 23 turns in a temporary store" in result.stdout
    assert "/200 tokens" in result.stdout
    assert list(tmp_path.iterdir()) == []


def test_version_is_printed() -> None:
    result = ok("--version")
    assert result.stdout.strip() == f"tiermem {tiermem.__version__}"


def test_search_without_a_user_says_whose_each_hit_is(tmp_path: Path) -> None:
    path = tmp_path / "two.jsonl"
    lines = [
        {"role": "user", "content": "My cat is called Miso.", "user_id": "ana",
         "session_id": "s1"},
        {"role": "user", "content": "My cat is called Tofu.", "user_id": "ben",
         "agent_id": "helper", "session_id": "s2"},
    ]  # fmt: skip
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    folder = str(tmp_path / "s")
    ok("ingest", str(path), "--store", folder)
    mixed = ok("search", "cat called", "--store", folder).stdout
    assert "user/agent/session" in mixed
    assert "ana/-/s1" in mixed
    assert "ben/helper/s2" in mixed
    own = ok("search", "cat called", "--store", folder, "--user", "ana").stdout
    assert "user/agent/session" not in own
    assert "Miso" in own
    assert "Tofu" not in own


def test_export_and_import_show_progress_only_when_asked(store: str, tmp_path: Path) -> None:
    # the test runner's stderr is no terminal: a bar appears only with --progress
    quiet = ok("export", str(tmp_path / "a.jsonl"), "--store", store, "--json")
    assert quiet.stderr == ""
    shown = ok("export", str(tmp_path / "b.jsonl"), "--store", store, "--progress")
    assert "exporting" in shown.stderr
    assert "23/23" in shown.stderr
    assert "exporting" not in shown.stdout
    copy = str(tmp_path / "copy")
    quiet = ok("import", str(tmp_path / "a.jsonl"), "--store", copy, "--json")
    assert quiet.stderr == ""
    assert json.loads(quiet.stdout)["records"] == 23
    shown = ok("import", str(tmp_path / "b.jsonl"), "--store", copy, "--json", "--progress")
    assert "importing" in shown.stderr
    assert "23/23" in shown.stderr
    assert json.loads(shown.stdout)["records"] == 23  # stdout stays clean JSON
    assert as_json("stats", "--store", copy)["records"] == 23


def test_a_failed_ingest_can_be_run_again(tmp_path: Path) -> None:
    lines = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i}",
              "session_id": f"s{i // 40}", "user_id": "ana"} for i in range(100)]  # fmt: skip
    bad = [*lines[:70], {"role": "robot", "content": "oops"}, *lines[70:]]
    path, store = tmp_path / "chat.jsonl", str(tmp_path / "s")
    path.write_text("\n".join(json.dumps(m) for m in bad), encoding="utf-8")
    failed = run("ingest", str(path), "--store", store)
    assert failed.exit_code == 1
    assert "line 71" in failed.stderr
    assert 0 < as_json("stats", "--store", store)["turns"] < 100  # earlier batches landed
    path.write_text("\n".join(json.dumps(m) for m in lines), encoding="utf-8")
    again = as_json("ingest", str(path), "--store", store)
    assert again["skipped"] > 0
    assert as_json("stats", "--store", store)["turns"] == 100
    assert (
        as_json("ingest", str(path), "--store", store)["skipped"] == 100
    )  # a third run adds nothing
    with TieredMemory(store) as mem:
        texts = [r.text for r in mem.records(user_id="ana")]
    assert sorted(texts) == sorted(m["content"] for m in lines)  # each turn once


def test_a_locomo_ingest_twice_stores_each_turn_once(tmp_path: Path) -> None:
    path = tmp_path / "locomo.json"
    path.write_text(json.dumps(LOCOMO), encoding="utf-8")
    for _ in range(2):
        as_json("ingest", str(path), "--store", str(tmp_path / "s"))
    assert as_json("stats", "--store", str(tmp_path / "s"))["turns"] == 3


# --- lifecycle: remember, forget, list ---------------------------------------------------


def test_remember_list_and_forget_a_scope(tmp_path: Path) -> None:
    folder = str(tmp_path / "life")
    fact = as_json("remember", "Prefers tea", "--store", folder, "--user", "ana", "--tag", "pref",
                   "--importance", "0.8")  # fmt: skip
    assert (fact["user_id"], fact["tags"], fact["expires_at"]) == ("ana", ["pref"], None)
    soon = as_json(
        "remember", "Door code 1234", "--store", folder, "--user", "ana", "--ttl", "3600"
    )
    assert soon["expires_at"] is not None
    ok("remember", "Prefers coffee", "--store", folder, "--user", "ben", "--tag", "pref")
    ok("remember", "Was born in 1990", "--store", folder, "--user", "ana",
       "--expires-at", "2001-01-01")  # already expired: never listed  # fmt: skip
    listed = as_json("list", "--store", folder, "--user", "ana")
    assert listed["total"] == 2
    assert {r["text"] for r in listed["records"]} == {"Prefers tea", "Door code 1234"}

    dry = as_json("forget", "--store", folder, "--user", "ana", "--tag", "pref", "--dry-run")
    assert (dry["dry_run"], dry["total"], dry["ids"]) == (True, 1, [fact["id"]])
    assert as_json("list", "--store", folder, "--user", "ana")["total"] == 2
    line = ok("forget", "--store", folder, "--user", "ana", "--tag", "pref").stdout
    assert "forgot 1 records" in line
    left = {r["text"] for r in as_json("list", "--store", folder)["records"]}
    assert left == {"Prefers coffee", "Door code 1234"}


def test_list_pages_through_a_scope(tmp_path: Path) -> None:
    folder = str(tmp_path / "pages")
    for i in range(5):
        ok("remember", f"fact number {i}", "--store", folder, "--user", "ana")
    seen: list[str] = []
    offset: int | None = 0
    while offset is not None:
        page = as_json("list", "--store", folder, "--user", "ana", "--limit", "2",
                       "--offset", str(offset))  # fmt: skip
        assert len(page["records"]) <= 2
        seen += [r["id"] for r in page["records"]]
        offset = page["next_offset"]
    assert len(seen) == len(set(seen)) == 5
    table = ok("list", "--store", folder, "--user", "ana", "--limit", "2").stdout
    assert "1-2 of 5" in table
    assert "--offset 2" in table
    assert run("list", "--store", folder, "--limit", "0").exit_code != 0


@pytest.mark.parametrize("hostile", ["a'b", "%", "' OR 1=1 --", "ana"])
def test_forget_from_the_command_line_stays_in_its_scope(tmp_path: Path, hostile: str) -> None:
    folder = str(tmp_path / "scoped")
    ok("remember", "victim fact", "--store", folder, "--user", "victim", "--session", hostile)
    ok("remember", "own fact", "--store", folder, "--user", hostile)
    report = as_json("forget", "--store", folder, "--user", hostile)
    assert report["total"] == 1
    assert [r["text"] for r in as_json("list", "--store", folder)["records"]] == ["victim fact"]
    assert as_json("list", "--store", folder, "--user", hostile)["total"] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["forget"], "name at least one of"),
        (["forget", "--user", "a", "--before", "yesterday"], "--before"),
        (["forget", "--user", "a", "--kind", "turns"], "kinds"),
        (["remember", "x", "--ttl", "-5"], "ttl"),
        (["remember", "x", "--ttl", "5", "--expires-at", "2030-01-01"], "ttl"),
        (["remember", "x", "--expires-at", "soon"], "--expires-at"),
    ],
)
def test_lifecycle_mistakes_exit_1_with_one_line(
    tmp_path: Path, args: list[str], message: str
) -> None:
    folder = str(tmp_path / "bad")
    ok("remember", "kept", "--store", folder, "--user", "a")
    result = run(*args, "--store", folder)
    assert result.exit_code == 1
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert as_json("list", "--store", folder)["total"] == 1
