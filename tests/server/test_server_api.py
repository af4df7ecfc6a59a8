"""The memory API over HTTP, end to end: uvicorn on loopback, httpx as the client."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import ADMIN_KEY, ALICE_KEY, Running
from tiermem import ConfigError, TieredMemory
from tiermem.cli import app as cli
from tiermem.server import Grant, create_app, load_keys
from tiermem.server.access import digest

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

ALICE = {"user_id": "alice"}


def _seed(running: Running) -> dict[str, str]:
    with running.client(ALICE_KEY) as http:
        turns = http.post("/v1/messages", json={**ALICE, "session_id": "trip", "messages": [
            {"role": "user", "content": "I moved to Lisbon in May."},
            {"role": "assistant", "content": "Lisbon is lovely in spring!"},
        ]})  # fmt: skip
        assert turns.status_code == 201, turns.text
        fact = http.post("/v1/memories", json={**ALICE, "text": "Prefers answers in Portuguese",
                                                "importance": 0.9, "tags": ["pref"]})  # fmt: skip
        assert fact.status_code == 201, fact.text
    return {"turn": turns.json()[0]["id"], "fact": fact.json()["id"]}


def test_add_search_context_get_update_forget(running: Running) -> None:
    ids = _seed(running)
    with running.client(ALICE_KEY) as http:
        hits = http.post("/v1/search", json={**ALICE, "query": "where does the user live?"})
        assert hits.status_code == 200
        assert ids["turn"] in {h["record"]["id"] for h in hits.json()}
        assert set(hits.json()[0]["parts"]) >= {"text", "vector", "recency", "importance"}

        asked = {**ALICE, "session_id": "trip", "query": "where do I live?", "max_tokens": 200}
        built = http.post("/v1/context", json=asked)
        assert built.status_code == 200
        body = built.json()
        assert "Lisbon" in body["text"]
        assert 0 < body["token_count"] <= 200
        assert body["explanation"].startswith(f"context: {body['token_count']}/200 tokens")
        assert {d["tier"] for d in body["decisions"]} <= {"short_term", "medium_term", "long_term"}
        assert any(d["kept"] and d["reason"] for d in body["decisions"])
        assert sum(body["tokens_per_tier"].values()) > 0

        record = http.get(f"/v1/records/{ids['fact']}")
        assert record.json()["text"] == "Prefers answers in Portuguese"
        changed = http.patch(f"/v1/records/{ids['fact']}", json={"text": "Prefers English"})
        assert changed.status_code == 200
        assert running.memory.get(ids["fact"]).text == "Prefers English"
        assert http.delete(f"/v1/records/{ids['fact']}").status_code == 204
        assert http.get(f"/v1/records/{ids['fact']}").status_code == 404

        listing = http.get("/v1/records", params={**ALICE, "kind": "turn", "limit": 1})
        assert listing.json()["total"] == 2
        assert len(listing.json()["records"]) == 1
        sessions = http.get("/v1/sessions", params=ALICE).json()
        assert [(s["session_id"], s["turns"]) for s in sessions] == [("trip", 2)]
        stats = http.get("/v1/stats", params=ALICE).json()
        assert (stats["turns"], stats["memories"]) == (2, 0)
        assert "sessions" not in stats
        assert http.get("/v1/scopes").json() == {"name": "alice", "admin": False,
                                                 "scopes": [{"user_id": "alice"}]}  # fmt: skip


def test_lifecycle_over_http_expiry_pins_forget_by_rule_and_consolidate(running: Running) -> None:
    scope = {"user_id": "carol"}
    with running.client(ADMIN_KEY) as http:
        brief = http.post("/v1/memories", json={**scope, "text": "door code 4471",
                                                 "ttl_seconds": 3600})  # fmt: skip
        assert brief.status_code == 201, brief.text
        assert brief.json()["expires_at"] is not None
        turns = http.post("/v1/messages", json={**scope, "session_id": "c", "messages": [
            {"role": "user", "content": "Always answer in French.", "pinned": True},
            {"role": "user", "content": "Noise about the weather.", "importance": 0.1},
        ]})  # fmt: skip
        assert turns.status_code == 201, turns.text
        pinned, noise = turns.json()
        assert (pinned["pinned"], noise["pinned"]) == (True, False)
        assert noise["importance"] == pytest.approx(0.1)
        built = http.post("/v1/context", json={**scope, "session_id": "c", "query": "weather"})
        kept = [d for d in built.json()["decisions"] if d["kept"]]
        assert any(r["id"] == pinned["id"] for d in kept for r in d["records"])

        for text in ("Carol really likes green tea", "Carol likes green tea"):
            assert http.post("/v1/memories", json={**scope, "text": text}).status_code == 201
        dry = http.post("/v1/consolidate", json={**scope, "dry_run": True}).json()
        assert (dry["removed"], dry["dry_run"]) == (1, True)
        done = http.post("/v1/consolidate", json=scope).json()
        assert done["removed"] == 1
        assert len(done["merges"][0]["merged"]) == 1

        rule = {**scope, "kinds": ["turn"]}
        would = http.post("/v1/forget", json={**rule, "dry_run": True}).json()
        assert set(would["ids"]) == {pinned["id"], noise["id"]}
        assert http.get(f"/v1/records/{noise['id']}").status_code == 200  # a dry run
        gone = http.post("/v1/forget", json=rule).json()
        assert (gone["total"], gone["counts"].get("turn")) == (2, 2)
        assert http.get(f"/v1/records/{noise['id']}").status_code == 404
        assert http.get(f"/v1/records/{brief.json()['id']}").status_code == 200
        # a rule with no scope at all, and a kind that is none, name what is wrong
        unscoped = http.post("/v1/forget", json={"kinds": ["turn"]})
        assert unscoped.status_code == 422
        assert http.post("/v1/forget", json={**scope, "kinds": ["nope"]}).status_code == 422
    assert running.memory.records(user_id="carol", kinds=["turn"]) == []


def test_export_is_what_tiermem_import_takes(running: Running, tmp_path: Path) -> None:
    _seed(running)
    with running.client(ALICE_KEY) as http:
        exported = http.get("/v1/export", params=ALICE)
    assert exported.status_code == 200
    lines = exported.text.splitlines()
    assert len(lines) == 1 + 3
    assert json.loads(lines[0])["embedder"] == running.memory.embedder.name
    file = tmp_path / "alice.jsonl"
    file.write_text(exported.text)
    copy = tmp_path / "copy"
    result = CliRunner().invoke(cli, ["import", str(file), "--store", str(copy), "--json"])
    assert result.exit_code == 0, result.output
    with TieredMemory(copy) as restored:
        assert restored.stats(user_id="alice")["records"] == 3


def test_bad_input_is_a_422_naming_the_argument_and_nothing_is_stored(running: Running) -> None:
    with running.client(ALICE_KEY) as http:
        messages = [{"role": "user", "content": "fine"}, {"role": "wizard", "content": "nope"}]
        bad = http.post("/v1/messages", json={**ALICE, "messages": messages})
        assert bad.status_code == 422
        assert bad.json()["argument"] == "messages[1].role"
        assert http.post("/v1/search", json={**ALICE, "query": "x", "k": 0}).status_code == 422
        assert http.post("/v1/memories", json={**ALICE, "text": "x", "bogus": 1}).status_code == 422
    assert running.memory.stats()["records"] == 0


def test_health_ready_metrics_and_docs(running: Running) -> None:
    _seed(running)
    with running.client() as http:
        health = http.get("/health")
        assert health.status_code == 200
        assert health.json()["status"] in {"ok", "degraded"}
        assert {c["name"] for c in health.json()["checks"]} >= {"store_writable", "schema_version"}
        assert http.get("/ready").json() == {"ready": True}
        metrics = http.get("/metrics")
        assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
        assert "tiermem_turns_added_total 2" in metrics.text
        assert "tiermem_health_status " in metrics.text
        spec = http.get("/openapi.json").json()
        assert {"/v1/messages", "/v1/context", "/v1/records/{record_id}", "/health"} <= set(
            spec["paths"]
        )
        assert http.get("/docs").status_code == 200


def test_a_failing_store_makes_health_503_and_ready_503(running: Running) -> None:
    running.memory.close()
    with running.client() as http:
        assert http.get("/health").status_code == 503
        assert http.get("/ready").status_code == 503


def test_keys_load_from_toml_with_digests_and_bad_files_name_the_rule(tmp_path: Path) -> None:
    file = tmp_path / "keys.toml"
    file.write_text(
        f'[[keys]]\nname = "app"\nkey_sha256 = "{digest(ALICE_KEY)}"\n'
        'scopes = [{ user_id = "alice" }, { agent_id = "bot", session_id = "s" }]\n'
        f'[[keys]]\nname = "ops"\nkey = "{ADMIN_KEY}"\nadmin = true\n'
    )
    app_key, ops = load_keys(file)
    assert app_key.scopes == (Grant(user_id="alice"), Grant(agent_id="bot", session_id="s"))
    assert app_key.allows("alice", None, None)
    assert app_key.allows(None, "bot", "s")
    assert not app_key.allows(None, "bot", None)
    assert ops.admin
    file.write_text('[[keys]]\nname = "x"\nkey = "short"\n')
    with pytest.raises(ConfigError, match=r"keys\[0\]: key: .*16"):
        load_keys(file)
    file.write_text(f'[[keys]]\nname = "x"\nkey = "{ALICE_KEY}"\n')
    with pytest.raises(ConfigError, match="needs scopes, or admin"):
        load_keys(file)
    file.write_text(f'[[keys]]\nname = "x"\nkey = "{ALICE_KEY}"\nscopes = [{{}}]\n')
    with pytest.raises(ConfigError, match=r"keys\[0\]: scopes.0: a grant names at least one"):
        load_keys(file)
    with pytest.raises(ConfigError, match="configure at least one API key"):
        create_app(TieredMemory("memory://"), keys=[])
