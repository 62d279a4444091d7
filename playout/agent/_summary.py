"""What ``CommuneAgent.run`` reports when it returns."""

from __future__ import annotations

from dataclasses import dataclass, field

from playout.agent._receipt import AsRunReceipt
from playout.agent._sink import Outcome


@dataclass
class RunSummary:
    """The receipts of this run and every refusal (manifest or audio) it met.

    ``refused`` is non-empty when something was refused as not authentic: the CLI exits 1."""

    commune_id: str
    sequence: int | None = None
    online: bool = False
    receipts: list[AsRunReceipt] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def with_outcome(self, outcome: Outcome) -> list[AsRunReceipt]:
        return [receipt for receipt in self.receipts if receipt.outcome is outcome]

    @property
    def played(self) -> list[AsRunReceipt]:
        return self.with_outcome(Outcome.PLAYED)

    def describe(self) -> str:
        counts = ", ".join(
            f"{len(self.with_outcome(outcome))} {outcome}"
            for outcome in Outcome
            if self.with_outcome(outcome)
        )
        link = "online" if self.online else "offline"
        lines = [
            f"{self.commune_id}: manifest {self.sequence or '-'}, {link}, {counts or 'nothing due'}"
        ]
        lines += [f"refused: {message}" for message in self.refused]
        return "\n".join(lines)
