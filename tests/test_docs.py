"""The documentation's quick Python example runs as printed."""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_getting_started_first_example_runs(capsys) -> None:
    text = (DOCS / "getting-started.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, "getting-started.md has no python example"
    exec(compile(blocks[0], "docs/getting-started.md", "exec"), {})
    cost, shape = capsys.readouterr().out.split(" ", 1)
    assert float(cost) > 0.0
    assert shape.strip() == "(32,)"
