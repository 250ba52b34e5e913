"""What a run found, per storage entry and suite: ``reports/summary.json`` and the console
table, with one line per failure naming the check and the broken property (the way
``sonobuoy results`` reads)."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OUTCOMES = ("passed", "failed", "skipped")


@dataclass
class Outcome:
    test: str  # node id
    entry: str  # storage entry name, "-" for tests of no entry
    suite: str  # module name without test_
    outcome: str  # passed | failed | skipped (errors count as failed)
    message: str = ""  # the first line of the failure
    figures: dict[str, Any] = field(default_factory=dict)  # kind -> what the test measured


@dataclass
class Summary:
    run: str
    inventory: str
    started: str
    duration: float = 0.0
    outcomes: list[Outcome] = field(default_factory=list)

    def counts(self) -> dict[str, dict[str, dict[str, int]]]:
        table: dict[str, dict[str, dict[str, int]]] = defaultdict(
            lambda: defaultdict(lambda: dict.fromkeys(OUTCOMES, 0))
        )
        for outcome in self.outcomes:
            table[outcome.entry][outcome.suite][outcome.outcome] += 1
        return {entry: dict(suites) for entry, suites in table.items()}

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.outcome == "failed"]

    def verdict_of(self, entry: str) -> str:
        ran = [o for o in self.outcomes if o.entry == entry]
        if any(o.outcome == "failed" for o in ran):
            return "failed"
        return "passed" if any(o.outcome == "passed" for o in ran) else "skipped"

    @property
    def verdict(self) -> str:
        return "failed" if self.failures else "passed"

    def as_json(self) -> dict[str, Any]:
        counts = self.counts()
        return {
            "run": self.run,
            "inventory": self.inventory,
            "started": self.started,
            "duration": round(self.duration, 1),
            "verdict": self.verdict,
            "entries": {
                entry: {
                    "verdict": self.verdict_of(entry),
                    "suites": suites,
                    **self.figures_of(entry),
                }
                for entry, suites in sorted(counts.items())
            },
            "failures": [
                {"test": f.test, "entry": f.entry, "suite": f.suite, "message": f.message}
                for f in self.failures
            ],
        }

    def figures_of(self, entry: str) -> dict[str, Any]:
        """What the entry's tests measured, by kind (e.g. performance: pod -> figures)."""
        found: dict[str, Any] = {}
        for outcome in self.outcomes:
            if outcome.entry == entry:
                for kind, figures in outcome.figures.items():
                    found.setdefault(kind, {}).update(figures)
        return found

    def performance_lines(self) -> list[str]:
        """fio's figures per entry, pod and job, for the console."""
        lines: list[str] = []
        for entry in sorted({o.entry for o in self.outcomes}):
            for pod, figures in sorted(self.figures_of(entry).get("performance", {}).items()):
                for f in figures:
                    p99 = "-" if f.get("p99_ms") is None else f"{f['p99_ms']:.2f}"
                    lines.append(
                        f"{entry:<16} {pod:<12} {f['job']:<13} {f['iops']:>10.0f} "
                        f"{f['mib_per_s']:>9.1f} {p99:>8}"
                    )
        if lines:
            head = f"{'storage entry':<16} {'pod':<12} {'fio job':<13} {'IOPS':>10} "
            lines.insert(0, head + f"{'MiB/s':>9} {'p99 ms':>8}")
        return lines

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_json(), indent=2) + "\n")

    def table(self) -> list[str]:
        """suite x storage entry: passed/failed/skipped, a verdict row, then one line per
        failure (suites as rows: there are more suites than entries, and rows can grow)."""
        counts = self.counts()
        entries = sorted(counts)
        suites = sorted({suite for entry in counts.values() for suite in entry})
        width = max([len("suite"), len("verdict"), *(len(s) for s in suites)])
        cell = max([8, *(len(e) for e in entries)])
        lines = [f"{'suite':<{width}}  " + "  ".join(f"{e:>{cell}}" for e in entries)]
        for suite in suites:
            row = []
            for entry in entries:
                c = counts[entry].get(suite)
                text = "-" if c is None else f"{c['passed']}/{c['failed']}/{c['skipped']}"
                row.append(f"{text:>{cell}}")
            lines.append(f"{suite:<{width}}  " + "  ".join(row))
        verdicts = "  ".join(f"{self.verdict_of(e):>{cell}}" for e in entries)
        lines.append(f"{'verdict':<{width}}  {verdicts}")
        lines.append("(passed/failed/skipped per suite and storage entry)")
        lines += self.performance_lines()
        for failure in self.failures:
            lines.append(
                f"FAILED [{failure.entry}] {failure.suite}: {failure.test.split('::')[-1]}"
            )
            if failure.message:
                lines.append(f"    {failure.message}")
        return lines


def first_line(text: str) -> str:
    """The first meaningful line of a failure (the check's sentence, not 'assert ...')."""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("E "):
            line = line[2:].strip()
        if line and not line.startswith(("assert ", "Traceback", "def ", ">")):
            return line[:300]
    return text.strip().splitlines()[0][:300] if text.strip() else ""
