"""Mutation testing of the math core and the training loop: mutmut, sampled, with a report.

Command (from the repository root, with the ``mutation`` extra installed)::

    python benchmarks/mutation.py --sample 60 --seed 17

``mutmut`` (configured in ``pyproject.toml``'s ``[tool.mutmut]``: the files of
``anyarray_nn/nn/`` and the training loop, the math and training tests, NumPy backend only)
plants one bug at a time (an operator, a constant, an argument, a dropped statement) and runs
the tests that cover the mutated function against it. A mutant the tests fail on is *caught*;
one they pass on *survived*. This script

1. generates every mutant (``mutmut run`` on a name that matches none of them: generation and
   the per-test coverage statistics, no mutant run),
2. draws ``--sample`` mutants per module with a seeded generator (the same names for the same
   source, sample size and seed: a before/after comparison runs the same mutants), or takes
   them all (``--sample 0``),
3. runs them (``mutmut run NAME ...``) and reads each one's exit status,
4. writes ``benchmarks/results/mutation.json`` and ``mutation.md``: caught / survived /
   equivalent per module and per group, the surviving mutants' diffs, and with ``--baseline``
   the scores of an earlier JSON beside them.

Survivors that no test can catch because the program's behaviour does not change are listed
in :data:`EQUIVALENT` with the reason; each entry carries a piece of the mutated line, so an
entry whose mutant has changed (the source moved) no longer matches and the mutant counts as
a survivor again. The score is caught / (run - equivalent).

It takes about a second per mutant per core; ``--max-children`` sets the parallel test runs.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from anyarray_nn import files  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
MUTANTS = ROOT / "mutants"
MATH_CORE = "math core"
TRAINING_LOOP = "training loop"
#: Statuses (mutmut's names) that count as caught.
CAUGHT = {"killed", "timeout", "caught by type check", "segfault"}
_NAME = re.compile(r"'(x[_ǁ][^' ]*?__mutmut_\d+)'")

#: Mutants that cannot be caught because they do not change what the program does:
#: name -> (a piece of the mutated ``+`` line, the reason).
_NET = "anyarray_nn.nn.network.xǁNetworkǁ"
_ONE_PER_LAYER = "every A^l of a batch has its m rows, so A[1] counts the batch as A[0] does"
_OVERWRITTEN = "__init__ calls self.keep() at once, which sets the attribute again"
_NO_NAME = (
    "an optimizer name of None becomes 'None', not in DEFAULT_LEARNING_RATES: the fallback "
    "TrainingConfig.learning_rate (1e-3) is the default optimizer's (adam) rate anyway"
)
EQUIVALENT: dict[str, tuple[str, str]] = {
    f"{_NET}predict_proba__mutmut_7": (
        "n < batch_size",
        "n == batch_size then takes the chunked path with one chunk: the same forward pass",
    ),
    f"{_NET}predict_proba__mutmut_41": (
        "concat(parts, )",
        "axis=0 is concat's default",
    ),
    "anyarray_nn.training.config.x_merge_config__mutmut_8": ('"optimizer", None)', _NO_NAME),
    "anyarray_nn.training.config.x_merge_config__mutmut_10": ('"optimizer", )', _NO_NAME),
    "anyarray_nn.training.divergence.xǁLastGoodEpochǁ__init____mutmut_3": (
        "self._parameters: list[Any] = None",
        _OVERWRITTEN,
    ),
    "anyarray_nn.training.divergence.xǁLastGoodEpochǁ__init____mutmut_4": (
        "self._state: list[Any] = None",
        _OVERWRITTEN,
    ),
    "anyarray_nn.training.divergence.xǁLastGoodEpochǁ__init____mutmut_5": (
        "self._steps = None",
        _OVERWRITTEN,
    ),
    "anyarray_nn.training.divergence.xǁLastGoodEpochǁ__init____mutmut_6": (
        "self._steps = 1",
        _OVERWRITTEN,
    ),
    "anyarray_nn.training.epoch.xǁ_Sumsǁadd__mutmut_7": ("float(A[1].shape[0])", _ONE_PER_LAYER),
    "anyarray_nn.nn.optimizers.xǁAdamǁupdate__mutmut_15": (
        "zip(grads, state[:n], )",
        "strict=True only guards lengths that are equal by construction (state mirrors params)",
    ),
    "anyarray_nn.training.history.xǁHistoryǁfrom_dict__mutmut_18": (
        '"stopped_early", None)',
        "bool(None) is False, the default it replaces",
    ),
    "anyarray_nn.training.history.xǁHistoryǁfrom_dict__mutmut_20": (
        '"stopped_early", )',
        "dict.get's default None: bool(None) is False, the default it replaces",
    ),
}


def group_of(module: str) -> str:
    """``"math core"`` for ``anyarray_nn.nn.*``, ``"training loop"`` for the rest."""
    return MATH_CORE if module.startswith("anyarray_nn.nn.") else TRAINING_LOOP


def mutmut(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the ``mutmut`` of this Python with ``args`` in the repository root."""
    exe = Path(sys.executable).with_name("mutmut")
    cmd = [str(exe) if exe.exists() else "mutmut", *args]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise SystemExit(f"mutation: `mutmut {' '.join(args[:3])} ...` failed")
    return done


def generate() -> dict[str, list[str]]:
    """Every mutant's full name, by module (``anyarray_nn.nn.costs`` -> names)."""
    shutil.rmtree(MUTANTS, ignore_errors=True)  # a fresh run: no cached results
    # A name that matches nothing: mutmut generates the mutants and the coverage
    # statistics, then stops on its "nothing matches" assertion.
    mutmut("run", "--max-children", "1", "no.such.mutant", check=False)
    by_module: dict[str, list[str]] = {}
    for path in sorted(MUTANTS.rglob("*.py")):
        if not path.with_name(path.name + ".meta").exists():
            continue  # copied, not mutated
        module = ".".join(path.relative_to(MUTANTS).with_suffix("").parts)
        names = sorted(set(_NAME.findall(path.read_text())), key=_natural)
        by_module[module] = [f"{module}.{n}" for n in names]
    if not by_module:
        raise SystemExit("mutation: mutmut generated no mutants (see pyproject [tool.mutmut])")
    return by_module


def _natural(name: str) -> tuple[str, int]:
    stem, _, number = name.rpartition("_")
    return stem, int(number)


def draw(by_module: dict[str, list[str]], sample: int, seed: int) -> dict[str, list[str]]:
    """``sample`` names per module (all when 0 or fewer exist), seeded per module."""
    if sample <= 0:
        return by_module
    drawn = {}
    for module, names in by_module.items():
        rng = random.Random(f"{seed}:{module}")
        chosen = names if len(names) <= sample else rng.sample(names, sample)
        drawn[module] = sorted(chosen, key=lambda n: _natural(n.rsplit(".", 1)[1]))
    return drawn


def run(names: list[str], max_children: int) -> dict[str, str]:
    """Run the mutants; their statuses (mutmut's words) by name."""
    mutmut("run", "--max-children", str(max_children), *names, check=False)
    from mutmut.stats import status_by_exit_code

    statuses = {}
    for meta in MUTANTS.rglob("*.meta"):
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        statuses.update({k: status_by_exit_code[v] for k, v in codes.items() if k in names})
    return {n: statuses.get(n, "not checked") for n in names}


def diff_of(name: str) -> str:
    """The ``-``/``+`` lines of a mutant's diff."""
    text = mutmut("show", name, check=False).stdout
    lines = [ln for ln in text.splitlines() if ln[:1] in "+-" and ln[:3] not in ("---", "+++")]
    return "\n".join(lines)


def classify(statuses: dict[str, str]) -> dict[str, Any]:
    """Counts per module and group, and each survivor's diff and verdict."""
    modules: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    survivors = []
    for name, status in sorted(statuses.items()):
        module = name.rsplit(".", 1)[0]
        counts = modules[module]
        counts["run"] += 1
        if status in CAUGHT:
            counts["caught"] += 1
            continue
        diff = diff_of(name)
        piece, reason = EQUIVALENT.get(name, ("\0", ""))
        added = "\n".join(ln for ln in diff.splitlines() if ln.startswith("+"))
        if piece in added:
            counts["equivalent"] += 1
        else:
            counts["survived"] += 1
            reason = ""
        survivors.append({"name": name, "status": status, "diff": diff, "equivalent": reason})
    groups: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for module, counts in modules.items():
        for key, value in counts.items():
            groups[group_of(module)][key] += value
    return {
        "modules": {m: dict(c) for m, c in sorted(modules.items())},
        "groups": {g: dict(c) for g, c in sorted(groups.items())},
        "survivors": survivors,
    }


def score(counts: dict[str, int]) -> float:
    """Caught / (run - equivalent), in percent."""
    relevant = counts.get("run", 0) - counts.get("equivalent", 0)
    return 100.0 * counts.get("caught", 0) / relevant if relevant else 100.0


def markdown(result: dict[str, Any], baseline: dict[str, Any] | None) -> str:
    """The report: the score table (with the baseline's), then the survivors."""
    head = "| module | mutants | caught | equivalent | survived | score |"
    sep = "|---|---|---|---|---|---|"
    if baseline:
        head, sep = head + " before |", sep + "---|"
    lines = [
        "# Mutation testing: math core and training loop",
        "",
        f"`{result['command']}` (mutmut {result['mutmut']}, NumPy backend only; sample "
        f"{result['sample'] or 'all'} per module, seed {result['seed']}).",
        "Timeouts count as caught (the tests ran far longer than on the unmutated code).",
        "Score = caught / (mutants - equivalent). See docs/testing.md.",
        "",
        head,
        sep,
    ]
    rows = [(m, c) for m, c in result["modules"].items()]
    rows += [(f"**{g}**", c) for g, c in result["groups"].items()]
    for label, counts in rows:
        row = (
            f"| {label} | {counts.get('run', 0)} | {counts.get('caught', 0)} | "
            f"{counts.get('equivalent', 0)} | {counts.get('survived', 0)} | "
            f"{score(counts):.1f}% |"
        )
        if baseline:
            key = label.strip("*")
            table = baseline["groups"] if label.startswith("**") else baseline["modules"]
            before = table.get(key)
            row += f" {score(before):.1f}% |" if before else " - |"
        lines.append(row)
    for title, pick in (("Surviving mutants", ""), ("Equivalent mutants", "x")):
        chosen = [s for s in result["survivors"] if bool(s["equivalent"]) == bool(pick)]
        lines += ["", f"## {title} ({len(chosen)})", ""]
        for s in chosen:
            why = f": {s['equivalent']}" if s["equivalent"] else f" ({s['status']})"
            lines += [f"- `{s['name']}`{why}", "", "  ```diff"]
            lines += [f"  {ln}" for ln in s["diff"].splitlines()] + ["  ```", ""]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sample", type=int, default=60, help="mutants per module (0: all)")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--max-children", type=int, default=2, help="parallel test runs")
    parser.add_argument("--modules", nargs="*", help="only these modules (dotted names)")
    parser.add_argument("--baseline", type=Path, help="an earlier mutation.json to compare")
    parser.add_argument("--out", type=Path, default=RESULTS / "mutation")
    args = parser.parse_args(argv)
    import mutmut as mutmut_package

    by_module = generate()
    if args.modules:
        by_module = {m: n for m, n in by_module.items() if m in args.modules}
    drawn = draw(by_module, args.sample, args.seed)
    names = [n for module_names in drawn.values() for n in module_names]
    print(f"mutation: running {len(names)} mutants of {len(drawn)} modules", flush=True)
    result = classify(run(names, args.max_children))
    command = "python benchmarks/mutation.py " + " ".join(
        a for a in (argv if argv is not None else sys.argv[1:])
    )
    result.update(
        command=command.strip(),
        mutmut=getattr(mutmut_package, "__version__", "3"),
        sample=args.sample,
        seed=args.seed,
        totals={m: len(n) for m, n in by_module.items()},
    )
    baseline = json.loads(args.baseline.read_text()) if args.baseline else None
    files.write_json(args.out.with_suffix(".json"), result)
    with files.atomic_write(args.out.with_suffix(".md"), "w", encoding="utf-8") as out:
        out.write(markdown(result, baseline))
    for group, counts in result["groups"].items():
        print(f"mutation: {group}: {score(counts):.1f}% ({counts})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
