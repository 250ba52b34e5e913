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
                entry: {"verdict": self.verdict_of(entry), "suites": suites}
                for entry, suites in sorted(counts.items())
            },
            "failures": [
                {"test": f.test, "entry": f.entry, "suite": f.suite, "message": f.message}
                for f in self.failures
            ],
        }

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_json(), indent=2) + "\n")

    def table(self) -> list[str]:
        """storage entry x suite: passed/failed/skipped, then one line per failure."""
        counts = self.counts()
        suites = sorted({suite for entry in counts.values() for suite in entry})
        width = max([len("storage entry"), *(len(e) for e in counts)])
        cell = max([8, *(len(s) for s in suites)])
        lines = [
            f"{'storage entry':<{width}}  "
            + "  ".join(f"{s:>{cell}}" for s in suites)
            + "  verdict"
        ]
        for entry in sorted(counts):
            row = []
            for suite in suites:
                c = counts[entry].get(suite)
                text = "-" if c is None else f"{c['passed']}/{c['failed']}/{c['skipped']}"
                row.append(f"{text:>{cell}}")
            lines.append(f"{entry:<{width}}  " + "  ".join(row) + f"  {self.verdict_of(entry)}")
        lines.append("(passed/failed/skipped per suite)")
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
