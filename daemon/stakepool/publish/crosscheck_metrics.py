"""Metrics of the witness node's cross-check (``[beacon] cross_check``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

RESOLUTIONS = ("confirmed", "corrected", "unresolved")


class CrossCheckMetrics:
    def __init__(self, registry: CollectorRegistry, primary: str, witness: str) -> None:
        labels = ["primary", "witness"]
        self._labels = (primary, witness)
        self.disagreements = Counter(
            "stakepool_cross_check_disagreements",
            "Settled epochs in which the witness node saw another balance change than the"
            " primary for at least one pool validator.",
            labels,
            registry=registry,
        )
        self.epochs = Counter(
            "stakepool_cross_check_epochs",
            "Settled epochs cross-checked, by outcome (agree, disagree, unchecked).",
            [*labels, "outcome"],
            registry=registry,
        )
        self.last_disagreement = Gauge(
            "stakepool_cross_check_last_disagreement_epoch",
            "The last epoch the witness disagreed about (-1: none yet).",
            labels,
            registry=registry,
        )
        self.resolutions = Counter(
            "stakepool_cross_check_resolutions",
            "Disagreements taken to finality, by outcome: confirmed (the primary was right),"
            " corrected (the ledger settled the epoch again from the witness), unresolved"
            " (neither node shown wrong, or the rows were final already: an operator decides).",
            [*labels, "outcome"],
            registry=registry,
        )
        self.disagreements.labels(*self._labels)
        self.last_disagreement.labels(*self._labels).set(-1)
        for outcome in ("agree", "disagree", "unchecked"):
            self.epochs.labels(*self._labels, outcome)
        for outcome in RESOLUTIONS:
            self.resolutions.labels(*self._labels, outcome)

    def checked(self, epoch: int, *, agree: bool | None) -> None:
        outcome = "unchecked" if agree is None else "agree" if agree else "disagree"
        self.epochs.labels(*self._labels, outcome).inc()
        if agree is False:
            self.disagreements.labels(*self._labels).inc()
            self.last_disagreement.labels(*self._labels).set(epoch)

    def resolved(self, outcome: str) -> None:
        """A disagreement taken to finality: ``confirmed``, ``corrected`` or ``unresolved``."""
        self.resolutions.labels(*self._labels, outcome).inc()
