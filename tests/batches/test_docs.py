"""docs/batches.md shows the one status table the code uses, row for row, in order."""

from __future__ import annotations

from pathlib import Path

from uws_server.services.batch_status import STATUS_RULES

DOC = Path(__file__).resolve().parents[2] / "docs" / "batches.md"


def _row(rule) -> str:
    errored = "any" if rule.errored is None else ("yes" if rule.errored else "no")
    return (f"| {', '.join(sorted(p.value for p in rule.phases))} | {rule.handed or 'any'} | "
            f"{errored} | **{rule.status}** | {rule.meaning} |")


def test_the_documented_status_table_is_the_codes():
    lines = [line for line in DOC.read_text().splitlines() if "| **" in line]
    assert lines == [_row(rule) for rule in STATUS_RULES]
