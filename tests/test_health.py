"""Health reports: every check measured on a real store, judged by configuration."""

from __future__ import annotations

import json
import time
from pathlib import Path

import lancedb
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from tiermem import (
    ConfigError,
    HealthReport,
    HotConfig,
    MemoryConfig,
    MetricsCallback,
    TieredMemory,
)
from tiermem.callbacks import HealthChecked
from tiermem.cli import app
from tiermem.health import Limit, Status, versions_since_optimize
from tiermem.long_term import SCHEMA_VERSION
from tiermem.testing import RecordingCallback

STORE_CHECKS = {"store_writable", "schema_version", "full_text_index", "vector_index",
                "versions_since_optimize"}  # fmt: skip


def _config(**health: object) -> MemoryConfig:
    # LanceDB's own state is checked: every write committed when it returns
    return MemoryConfig(long_term={"optimize_every": None}, hot={"enabled": False}, health=health)


def _tables(folder: Path) -> set[str]:
    return set(lancedb.connect(folder).list_tables().tables)


def test_a_healthy_store_is_ok_and_the_scratch_write_leaves_nothing(tmp_path: Path) -> None:
    with TieredMemory(tmp_path, config=_config()) as mem:
        turn = mem.add_message("user", "the ferry leaves at nine", user_id="u")
        tables = _tables(tmp_path)
        records_before = mem.records()
        found = mem.health()
        assert isinstance(found, HealthReport)
        assert found.status is Status.OK
        assert found.ok
        names = {c.name for c in found.checks}
        assert names >= STORE_CHECKS | {"disk_free", "process_rss"}
        assert all(c.status is Status.OK and c.advice is None for c in found.checks)
        assert found.check("schema_version").value == SCHEMA_VERSION
        assert found.check("store_writable").unit == "ms"
        assert found.check("process_rss").value > 10  # MB: a Python process with LanceDB
        assert _tables(tmp_path) == tables
        assert mem.records() == records_before
        assert mem.get(turn.id).text == "the ferry leaves at nine"
    data = json.loads(json.dumps(found.to_dict()))
    assert data["status"] == "ok"
    assert {c["name"] for c in data["checks"]} == names


def test_unindexed_rows_and_versions_degrade_until_optimize(tmp_path: Path) -> None:
    config = _config(unindexed_rows_degraded=3, versions_since_optimize_degraded=4)
    with TieredMemory(tmp_path, config=config) as mem:
        for i in range(6):
            mem.add_message("user", f"turn number {i}", user_id="u")
        found = mem.health()
        assert found.status is Status.DEGRADED
        text = found.check("full_text_index")
        assert (text.status, text.value, text.limit) == (Status.DEGRADED, 6, Limit(3, None))
        assert "optimize" in (text.advice or "")
        versions = found.check("versions_since_optimize")
        assert versions.status is Status.DEGRADED
        assert versions.value == 6
        mem.optimize()
        healed = mem.health()
        assert healed.check("full_text_index").value == 0
        assert healed.check("versions_since_optimize").value == 0
        assert healed.status is Status.OK
        mem.add_message("user", "one more", user_id="u")
        assert mem.health().check("versions_since_optimize").value == 1


def test_a_missing_vector_index_past_its_size_is_reported(tmp_path: Path) -> None:
    config = MemoryConfig(
        long_term={"optimize_every": None, "vector_index_rows": 2},
        health={"unindexed_rows_degraded": 1},
        hot={"enabled": False},
    )
    with TieredMemory(tmp_path, config=config) as mem:
        mem.add_messages([{"role": "user", "content": f"row {i}"} for i in range(3)])
        vector = mem.health().check("vector_index")
        assert (vector.status, vector.value) == (Status.DEGRADED, 3)
        assert "no vector index yet" in vector.detail
    # with the hot path on, LanceDB's vector index is not wanted: vectors are in process
    with TieredMemory(tmp_path, config=config.model_copy(update={"hot": HotConfig()})) as mem:
        vector = mem.health().check("vector_index")
        assert (vector.status, vector.value) == (Status.OK, 0)
        assert "in-process index" in vector.detail


def test_disk_free_fails_below_its_threshold_and_only_for_local_stores(tmp_path: Path) -> None:
    with TieredMemory(tmp_path, config=_config(disk_free_mb_failing=1e12,
                                               disk_free_mb_degraded=1e13)) as mem:  # fmt: skip
        found = mem.health()
        disk = found.check("disk_free")
        assert disk.status is Status.FAILING
        assert found.status is Status.FAILING
        assert disk.advice is not None
    with TieredMemory("memory://") as mem:
        assert "disk_free" not in {c.name for c in mem.health().checks}


def test_latency_p95_per_operation_from_an_attached_metrics_callback(tmp_path: Path) -> None:
    metrics = MetricsCallback()
    config = _config(latency_min_samples=3, latency_p95_ms_by_operation={"search": 1e-6})
    with TieredMemory(tmp_path, config=config, callbacks=[metrics]) as mem:
        mem.add_message("user", "the ferry leaves at nine", user_id="u")
        assert not [c for c in mem.health().checks if c.name.startswith("latency")]
        for _ in range(3):
            mem.search("ferry", user_id="u")
        found = mem.health()
        search = found.check("latency_p95.search")
        assert search.status is Status.DEGRADED
        assert search.value == pytest.approx(metrics.snapshot()["latency"]["search"]["p95"] * 1000,
                                             abs=0.01)  # fmt: skip
        # one sample of add_message: too few to judge
        assert "latency_p95.add_message" not in {c.name for c in found.checks}
    with TieredMemory("memory://") as mem:
        assert not [c for c in mem.health().checks if c.name.startswith("latency")]


def test_a_schema_version_changed_under_an_open_store_fails(tmp_path: Path) -> None:
    with TieredMemory(tmp_path, config=_config()) as mem:
        meta = lancedb.connect(tmp_path).open_table("tiermem_meta")
        meta.update(where="key = 'schema_version'", values={"value": str(SCHEMA_VERSION + 1)})
        check = mem.health().check("schema_version")
        assert (check.status, check.value) == (Status.FAILING, SCHEMA_VERSION + 1)
        assert "tiermem version" in (check.advice or "")


def test_a_closed_store_reports_failing_checks_instead_of_raising(tmp_path: Path) -> None:
    mem = TieredMemory(tmp_path, config=_config())
    mem.close()
    found = mem.health()
    assert found.status is Status.FAILING
    failing = {c.name for c in found.checks if c.status is Status.FAILING}
    assert failing == {"full_text_index", "vector_index", "versions_since_optimize"}
    assert all(c.detail for c in found.checks if c.status is Status.FAILING)


async def test_ahealth_matches_health(tmp_path: Path) -> None:
    with TieredMemory(tmp_path, config=_config()) as mem:
        mem.add_message("user", "hello", user_id="u")
        sync, other = mem.health(), await mem.ahealth()
        assert [(c.name, c.status, c.unit) for c in sync.checks] == [
            (c.name, c.status, c.unit) for c in other.checks
        ]
        assert other.check("full_text_index").value == 1


def test_health_is_an_event_and_a_prometheus_gauge(tmp_path: Path) -> None:
    recorder, metrics = RecordingCallback(), MetricsCallback()
    config = _config(disk_free_mb_failing=1e12, disk_free_mb_degraded=1e13)
    with TieredMemory(tmp_path, config=config, callbacks=[recorder, metrics]) as mem:
        mem.health()
    (event,) = recorder.of(HealthChecked)
    assert event.status == "failing"
    assert event.checks["disk_free"] == "failing"
    assert event.checks["schema_version"] == "ok"
    text = metrics.prometheus()
    assert "# TYPE tiermem_health_status gauge\ntiermem_health_status 2\n" in text
    assert 'tiermem_health_check_status{check="disk_free"} 2' in text
    assert 'tiermem_health_check_status{check="schema_version"} 0' in text


def test_versions_since_optimize_counts_after_the_last_compaction_or_index_commit() -> None:
    def version(n: int, rows: int, fragments: int) -> dict[str, object]:
        meta = {"total_rows": str(rows), "total_fragments": str(fragments)}
        return {"version": n, "metadata": meta}

    written = [version(1, 0, 0), version(2, 1, 1), version(3, 2, 2)]
    assert versions_since_optimize(written) == 2
    compacted = [*written, version(4, 2, 1), version(5, 2, 1), version(6, 3, 2)]
    assert versions_since_optimize(compacted) == 1
    deleted = [*compacted, version(7, 2, 1)]  # a delete drops a fragment and a row
    assert versions_since_optimize(deleted) == 2


def test_thresholds_are_checked_configuration() -> None:
    with pytest.raises(ConfigError, match="disk_free_mb_failing"):
        MemoryConfig(health={"disk_free_mb_degraded": 10, "disk_free_mb_failing": 20})
    with pytest.raises(ConfigError, match="rss_mb_failing"):
        MemoryConfig(health={"rss_mb_degraded": 100, "rss_mb_failing": 50})
    with pytest.raises(ConfigError, match=r"health\.bogus"):
        MemoryConfig(health={"bogus": 1})


def _doctor(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["doctor", *args])
    return result.exit_code, result.output


def test_doctor_prints_a_table_and_json_and_exits_by_status(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with TieredMemory(store) as mem:
        mem.add_message("user", "hello", user_id="u")
    code, out = _doctor("--store", str(store))
    assert code == 0
    assert "store_writable" in out
    assert "ok" in out
    code, out = _doctor("--store", str(store), "--json")
    assert code == 0
    assert json.loads(out)["status"] == "ok"
    failing = tmp_path / "failing.toml"
    failing.write_text("[tiermem.health]\ndisk_free_mb_degraded = 1e13\n"
                       "disk_free_mb_failing = 1e12\n")  # fmt: skip
    code, out = _doctor("--store", str(store), "--config", str(failing), "--json")
    assert code == 1
    assert json.loads(out)["status"] == "failing"
    degraded = tmp_path / "degraded.toml"
    degraded.write_text("[tiermem.health]\nunindexed_rows_degraded = 0\n")
    assert _doctor("--store", str(store), "--config", str(degraded))[0] == 0
    assert _doctor("--store", str(store), "--config", str(degraded), "--strict")[0] == 1


def test_doctor_on_a_store_that_cannot_open_fails_with_its_reason(tmp_path: Path) -> None:
    code, out = _doctor("--store", str(tmp_path / "nowhere"), "--json")
    assert code == 1
    data = json.loads(out)
    assert data["status"] == "failing"
    (check,) = data["checks"]
    assert check["name"] == "store_opens"
    assert "no store at" in check["detail"]
    # a records table some other program wrote
    lancedb.connect(tmp_path / "alien").create_table("records", data=pa.table({"a": [1]}))
    code, out = _doctor("--store", str(tmp_path / "alien"))
    assert code == 1
    assert "store_opens" in out


def test_a_scratch_table_left_by_a_dead_check_is_dropped_by_the_next(tmp_path: Path) -> None:
    with TieredMemory(tmp_path, config=_config()) as mem:
        db = lancedb.connect(tmp_path)
        stale = "tiermem_health_1000_deadbeef"  # written in 1970: long past
        fresh = f"tiermem_health_{int(time.time() * 1000)}_cafe"  # another check, running now
        for name in (stale, fresh):
            db.create_table(name, data=pa.table({"probe": [name]}))
        assert mem.health().check("store_writable").status is Status.OK
        assert _tables(tmp_path) == {"records", "tiermem_meta", "tiermem_deleted", fresh}


def test_the_in_process_index_reports_its_backlog_and_its_lag(tmp_path: Path) -> None:
    hot = MemoryConfig(
        long_term={"optimize_every": None}, health={"index_lag_versions_degraded": 1}
    )
    off = MemoryConfig(long_term={"optimize_every": None}, hot={"enabled": False})
    with TieredMemory(tmp_path, config=hot) as mem:
        mem.add_message("user", "the ferry leaves at nine", user_id="u")
        found = mem.health()
        assert found.check("write_backlog").status is Status.OK
        assert found.check("write_backlog").unit == "writes"
        assert found.check("index_lag").value == 0
        # another instance commits twice; this one has not read since
        with TieredMemory(tmp_path, config=off) as other:
            other.add_message("user", "the ferry is late", user_id="u")
            other.remember("the ferry is green", user_id="u")
        lagging = mem.health().check("index_lag")
        assert lagging.value == 2
        assert lagging.status is Status.DEGRADED
        assert lagging.advice is not None
        assert mem.search("ferry green", user_id="u")  # a read catches up
        assert mem.health().check("index_lag").value == 0


def test_without_the_hot_path_there_is_no_index_to_check(tmp_path: Path) -> None:
    with TieredMemory(tmp_path, config=_config()) as mem:
        names = {c.name for c in mem.health().checks}
    assert not names & {"write_backlog", "index_lag"}


def test_backlog_and_lag_thresholds_are_checked_in_order() -> None:
    with pytest.raises(ConfigError, match="write_backlog_failing"):
        MemoryConfig(health={"write_backlog_degraded": 10, "write_backlog_failing": 5})
