"""benchmarks/augment_speed.py's logic on tiny data (no timing is asserted, ever)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))

import augment_speed  # noqa: E402


def test_augment_speed_runs_and_writes_json(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("ANYARRAY_NN_DATA", raising=False)  # synthetic data, quick
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    out = tmp_path / "speed.json"
    assert augment_speed.main(["--n", "200", "--repeats", "1", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert len(rows) == len(augment_speed.CASES)
    assert all(r["seconds"] > 0 and r["ratio"] > 0 for r in rows)
    assert [r["ratio"] for r in rows if r["augmentation"] == "none"] == [1.0, 1.0]
    assert "| 784-800-10 | elastic (simard) |" in capsys.readouterr().out
