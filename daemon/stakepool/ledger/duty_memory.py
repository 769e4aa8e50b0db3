"""The monitor's duty verdicts kept for the ledger's rows until they are settled.

Each ledger row carries its validators' duty outcomes (attestation included, proposals missed).
The monitor judges epoch ``k``'s attestations at the close of ``k + 1`` and the ledger settles
``k`` then too, so the verdicts are collected here (``DutyMemory``, an ``EpochDuties`` observer)
and saved in the monitor's own transaction so that a kill between the two loses none of them.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import structlog

from stakepool.chain.types import ValidatorIndex
from stakepool.ledger.store.ledger_sql import unsettled_from
from stakepool.monitor.digest import EpochDuties
from stakepool.monitor.verdicts import ProposalVerdict
from stakepool.store.unit import UnitOfWork

log = structlog.get_logger(__name__)

_KEEP_EPOCHS = 16
"""Duty outcomes kept per epoch: enough for a settlement that is retried for a while."""
DUTIES_KEY = "ledger_duty_outcomes"
"""``kept_state`` key of the outcomes the ledger has not settled yet (see ``DutyMemory.write``)."""


@dataclass(frozen=True, slots=True)
class EpochOutcomes:
    """The monitor's verdicts that a ledger row of epoch ``epoch`` carries."""

    epoch: int
    attestation_included: Mapping[int, bool]
    """Validators with an attestation duty in ``epoch`` → included on chain (None: not judged)."""
    proposals_missed: Mapping[int, int]
    """Validators → proposals of ``epoch`` missed or orphaned."""


class DutyMemory:
    """Collects ``EpochDuties`` (an observer hook) into per-epoch outcomes for ledger rows.

    Kept across restarts: the monitor saves its state for epoch ``c`` before the ledger settles
    ``c − 1``, and after a restart it resumes at ``c + 1``; the outcomes of the epochs the ledger
    has not settled yet must therefore be saved in the monitor's own transaction (``write``, a
    ``MonitorKeeper`` hook) or the rows settled after a kill would lack them."""

    def __init__(self) -> None:
        self._included: dict[int, _Verdicts] = {}
        """Per epoch, the validators whose attestation was included and those whose was not, as
        sorted arrays: kept for 16 epochs, as dicts they held ~8 MB an epoch at 100,000
        validators (a table and an int object per validator), ~130 MB in all."""
        self._missed: dict[int, dict[int, int]] = {}
        self._pending: set[int] = set()
        """Epochs whose verdicts the monitor failed to make and tries again at the next close."""

    def write(self, unit: UnitOfWork, report: EpochDuties) -> None:
        """In the monitor's save transaction: record ``report`` and keep what is unsettled."""
        self.record(report)
        unit.keep(DUTIES_KEY, self.to_text(since=unsettled_from(unit)))

    def to_text(self, *, since: int) -> str:
        known = set(self._included) | set(self._missed) | self._pending
        doc = [
            {
                "epoch": e,
                "included": self._included[e].included.tolist() if e in self._included else [],
                "missed": self._included[e].missed.tolist() if e in self._included else [],
                "judged": e in self._included,
                "proposals_missed": sorted(self._missed.get(e, {}).items()),
                "proposals_judged": e in self._missed,
                "pending": e in self._pending,
            }
            for e in sorted(e for e in known if e >= since)
        ]
        return json.dumps(doc, separators=(",", ":"))

    def restore(self, text: str) -> None:
        """Load what ``to_text`` saved (a restart); unreadable text is ignored with a warning."""
        try:
            for item in json.loads(text):
                epoch = int(item["epoch"])
                if item["judged"]:
                    verdicts = dict.fromkeys((int(v) for v in item["included"]), True)
                    verdicts.update(dict.fromkeys((int(v) for v in item["missed"]), False))
                    self._included[epoch] = _Verdicts.of(verdicts)
                if item.get("proposals_judged", True):  # absent: saved before it was written
                    self._missed[epoch] = {int(v): int(n) for v, n in item["proposals_missed"]}
                if item.get("pending", False):
                    self._pending.add(epoch)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("ledger_duty_outcomes_unreadable", error=str(exc))

    def record(self, report: EpochDuties) -> None:
        for digest in (*report.earlier_attestations, report.attestations):
            if digest is None:
                continue
            verdicts = dict.fromkeys(digest.included, True)
            verdicts.update(dict.fromkeys(digest.missed, False))
            self._included[int(digest.epoch)] = _Verdicts.of(verdicts)
        for epoch, proposals in report.earlier_proposals:
            self._missed[int(epoch)] = _missed_counts(proposals)
        if report.proposals_judged:
            self._missed[int(report.epoch)] = _missed_counts(report.proposals)
        # The monitor says, each close, which verdicts are still to come (its retries).
        self._pending = {int(e) for e in report.pending}
        self._trim(int(report.epoch))

    def first_pending(self, since: int = 0) -> int | None:
        """The oldest epoch from ``since`` on whose verdicts the monitor is still trying to make
        (None: none)."""
        return min((e for e in self._pending if e >= since), default=None)

    def outcomes(self, epoch: int) -> EpochOutcomes | None:
        if epoch not in self._included and epoch not in self._missed:
            return None
        verdicts = self._included.get(epoch)
        included = {} if verdicts is None else verdicts.as_dict()
        return EpochOutcomes(epoch, included, self._missed.get(epoch, {}))

    def _trim(self, newest: int) -> None:
        for table in (self._included, self._missed):
            for epoch in [e for e in table if e < newest - _KEEP_EPOCHS]:
                del table[epoch]


@dataclass(frozen=True, slots=True)
class _Verdicts:
    """One epoch's attestation verdicts: validators included, validators missed (disjoint)."""

    included: array[int]
    missed: array[int]

    @classmethod
    def of(cls, verdicts: Mapping[int, bool] | Mapping[ValidatorIndex, bool]) -> _Verdicts:
        return cls(
            array("q", sorted(int(v) for v, ok in verdicts.items() if ok)),
            array("q", sorted(int(v) for v, ok in verdicts.items() if not ok)),
        )

    def as_dict(self) -> dict[int, bool]:
        out = dict.fromkeys(self.included, True)
        out.update(dict.fromkeys(self.missed, False))
        return out


def _missed_counts(proposals: Sequence[tuple[int, int, ProposalVerdict]]) -> dict[int, int]:
    """Validators → proposals missed or orphaned."""
    missed: dict[int, int] = {}
    for _slot, validator, verdict in proposals:
        if verdict in (ProposalVerdict.MISSED, ProposalVerdict.ORPHANED):
            missed[int(validator)] = missed.get(int(validator), 0) + 1
    return missed
