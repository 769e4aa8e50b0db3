"""The registry's families, the cardinality rule, and the per-node collector, without a server."""

from __future__ import annotations

import asyncio
import platform
import time
from types import MappingProxyType

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from stakepool import __version__
from stakepool.beacon.health import DURATION_BUCKETS, NodeHealth, RouteStats
from stakepool.beacon.models.state import ValidatorStatus
from stakepool.monitor.tally_keys import TallyKeys
from stakepool.monitor.verdicts import (
    AttestationFlag,
    AttestationVerdict,
    ProposalVerdict,
    UnexpectedOperation,
)
from stakepool.publish.beacon_metrics import node_label
from stakepool.publish.loop_lag import monitor_loop_lag
from stakepool.publish.metrics import Metrics


def samples(metrics: Metrics) -> dict[str, list[Sample]]:
    """Family name (as typed: counters without ``_total``) → its samples."""
    text = metrics.render().decode()
    return {f.name: list(f.samples) for f in text_string_to_metric_families(text)}


def value(metrics: Metrics, name: str, **labels: str) -> float:
    text = metrics.render().decode()
    found = [
        s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == name and s.labels == labels
    ]
    assert len(found) == 1, (name, labels, found)
    return found[0]


def test_build_info_statuses_and_no_created_series() -> None:
    m = Metrics(pool_id="alpha")
    text = m.render().decode()
    assert "_created" not in text
    assert (
        value(m, "stakepool_build_info", version=__version__, python=platform.python_version()) == 1
    )
    assert value(m, "stakepool_pool_info", pool="alpha") == 1
    # All nine statuses are present from the start (a missing series breaks rules and dashboards).
    assert {s.labels["status"] for s in samples(m)["stakepool_pool_validators"]} == {
        s.value for s in ValidatorStatus
    }
    m.set_validator_statuses(
        [ValidatorStatus.ACTIVE_ONGOING] * 3 + [ValidatorStatus.ACTIVE_SLASHED], slashed=1
    )
    assert value(m, "stakepool_pool_validators", status="active_ongoing") == 3
    assert value(m, "stakepool_pool_validators", status="active_slashed") == 1
    assert value(m, "stakepool_pool_validators", status="pending_queued") == 0
    assert value(m, "stakepool_slashed_validators") == 1
    m.set_head(65, 8)
    m.set_checkpoints(7, 6)
    m.set_epoch_processed(7, at=1_700_000_000.0)
    assert value(m, "stakepool_head_slot") == 65
    assert value(m, "stakepool_head_epoch") == 8
    assert value(m, "stakepool_justified_epoch") == 7
    assert value(m, "stakepool_finalized_epoch") == 6
    assert value(m, "stakepool_last_processed_epoch") == 7
    assert value(m, "stakepool_last_processed_epoch_timestamp_seconds") == 1_700_000_000.0


def test_two_instances_do_not_share_series() -> None:
    a, b = Metrics(), Metrics()
    a.set_head(10, 1)
    assert value(b, "stakepool_head_slot") == 0


def test_resolver_switches_to_groups_above_the_limit() -> None:
    members = [(1, "vc-1"), (2, "vc-1"), (3, None)]
    small = TallyKeys.for_pool(members, limit=3)
    assert small.label_name == "validator"
    assert small.value(2) == "2"
    assert small.all_values() == ["1", "2", "3"]
    big = TallyKeys.for_pool(members, limit=2)
    assert big.label_name == "group"
    assert big.value(2) == "vc-1"
    assert big.value(3) == "unlabelled"
    assert big.all_values() == ["unlabelled", "vc-1"]
    assert big.value(99) is None  # not ours: never exported


def test_per_validator_duty_series_are_initialised_and_counted() -> None:
    m = Metrics(per_validator_limit=4)
    m.set_pool([(10, None), (11, "vc-a")])
    d = m.duties
    d.record_attestation(
        10, AttestationVerdict.INCLUDED, inclusion_delay=2, missed_flags=[AttestationFlag.HEAD]
    )
    d.record_attestation(11, AttestationVerdict.MISSED)
    d.record_attestation(11, AttestationVerdict.MISSED)
    d.record_attestation(99, AttestationVerdict.MISSED)  # not a pool member: ignored
    d.record_proposal(10, ProposalVerdict.ORPHANED)
    d.record_sync_signatures(11, signed=30, missed=2)
    d.set_sync_participation({11: (30, 32), 10: (0, 0)})
    d.record_unexpected_operation(10, UnexpectedOperation.VOLUNTARY_EXIT)
    assert value(m, "stakepool_attestations_total", validator="10", outcome="included") == 1
    assert value(m, "stakepool_attestations_total", validator="11", outcome="missed") == 2
    assert value(m, "stakepool_attestations_total", validator="10", outcome="missed") == 0
    assert value(m, "stakepool_attestation_misses_total", validator="10", flag="head") == 1
    assert value(m, "stakepool_attestation_misses_total", validator="10", flag="target") == 0
    assert (
        value(m, "stakepool_attestation_inclusion_delay_slots_bucket", validator="10", le="1.0")
        == 0
    )
    assert (
        value(m, "stakepool_attestation_inclusion_delay_slots_bucket", validator="10", le="2.0")
        == 1
    )
    assert value(m, "stakepool_attestation_missed_streak", validator="11") == 2
    assert value(m, "stakepool_attestation_missed_streak", validator="10") == 0
    assert value(m, "stakepool_proposals_total", validator="10", outcome="orphaned") == 1
    assert value(m, "stakepool_proposals_total", validator="11", outcome="missed") == 0
    assert (
        value(m, "stakepool_sync_committee_signatures_total", validator="11", outcome="missed") == 2
    )
    assert value(m, "stakepool_sync_committee_participation_ratio", validator="11") == 30 / 32
    ratio = samples(m)["stakepool_sync_committee_participation_ratio"]
    assert [s.labels for s in ratio] == [{"validator": "11"}]  # no seat, no ratio
    assert value(m, "stakepool_slashing_evidence_total", validator="11") == 0
    assert value(m, "stakepool_doppelganger_detections_total", validator="10") == 0
    assert (
        value(
            m,
            "stakepool_unexpected_operations_total",
            validator="10",
            operation="voluntary_exit",
        )
        == 1
    )
    # An inclusion ends a streak.
    d.record_attestation(11, AttestationVerdict.INCLUDED, inclusion_delay=1)
    assert value(m, "stakepool_attestation_missed_streak", validator="11") == 0


def test_above_the_limit_every_duty_family_is_aggregated_by_group() -> None:
    m = Metrics(per_validator_limit=2)
    m.set_pool([(1, "vc-a"), (2, "vc-a"), (3, None)])
    d = m.duties
    d.record_attestation(1, AttestationVerdict.MISSED)
    d.record_attestation(2, AttestationVerdict.MISSED)
    d.record_attestation(2, AttestationVerdict.MISSED)
    d.record_attestation(3, AttestationVerdict.INCLUDED, inclusion_delay=1)
    d.set_sync_participation({1: (10, 32), 2: (32, 32)})
    d.record_slashing_evidence(3)
    d.record_doppelganger(1)
    text = m.render().decode()
    assert 'validator="' not in text  # no per-validator series at all above the limit
    assert value(m, "stakepool_attestations_total", group="vc-a", outcome="missed") == 3
    assert value(m, "stakepool_attestations_total", group="unlabelled", outcome="included") == 1
    assert value(m, "stakepool_attestation_missed_streak", group="vc-a") == 2  # the worst member
    assert value(m, "stakepool_sync_committee_participation_ratio", group="vc-a") == 42 / 64
    assert value(m, "stakepool_slashing_evidence_total", group="unlabelled") == 1
    assert value(m, "stakepool_doppelganger_detections_total", group="vc-a") == 1
    assert value(m, "stakepool_proposals_total", group="unlabelled", outcome="proposed") == 0
    for family in samples(m).values():
        for sample in family:
            assert "validator" not in sample.labels


def _node(url: str, *, up: bool, last_success: float | None) -> NodeHealth:
    stats = RouteStats(
        count=3,
        errors=1,
        seconds_total=0.35,
        seconds_max=0.2,
        bucket_counts=tuple(1 if b < 0.1 else (2 if b < 0.25 else 3) for b in DURATION_BUCKETS),
    )
    return NodeHealth(
        url=url,
        up=up,
        score=87,
        last_success=last_success,
        last_failure=None,
        offline_until=None,
        excluded=None,
        routes=MappingProxyType({"GET /eth/v1/node/version": stats}),
    )


def test_beacon_families_are_read_from_health_at_scrape_time() -> None:
    nodes = [_node("http://u:secret@10.0.0.1:5052", up=True, last_success=1_700_000_000.0)]
    m = Metrics()
    m.watch_beacon(lambda: nodes)
    node = "http://10.0.0.1:5052"
    assert "secret" not in m.render().decode()
    assert value(m, "stakepool_beacon_up", node=node) == 1
    assert value(m, "stakepool_beacon_score", node=node) == 87
    assert value(m, "stakepool_beacon_last_success_timestamp_seconds", node=node) == 1.7e9
    route = "GET /eth/v1/node/version"
    assert value(m, "stakepool_beacon_requests_total", node=node, route=route) == 3
    assert value(m, "stakepool_beacon_request_errors_total", node=node, route=route) == 1
    name = "stakepool_beacon_request_duration_seconds"
    assert value(m, name + "_bucket", node=node, route=route, le="0.05") == 1
    assert value(m, name + "_bucket", node=node, route=route, le="0.25") == 3
    assert value(m, name + "_bucket", node=node, route=route, le="+Inf") == 3
    assert value(m, name + "_count", node=node, route=route) == 3
    assert value(m, name + "_sum", node=node, route=route) == 0.35
    # The next scrape sees the client's new state: nothing is copied in between.
    nodes[0] = _node("http://u:secret@10.0.0.1:5052", up=False, last_success=None)
    assert value(m, "stakepool_beacon_up", node=node) == 0
    assert value(m, "stakepool_beacon_last_success_timestamp_seconds", node=node) == 0


def test_node_label_keeps_urls_without_credentials() -> None:
    assert node_label("http://127.0.0.1:5052") == "http://127.0.0.1:5052"
    assert node_label("https://a:b@[::1]:5052/base") == "https://[::1]:5052/base"
    assert node_label("https://token@node.example") == "https://node.example"


async def test_loop_lag_histogram_sees_a_blocked_loop() -> None:
    m = Metrics()
    observed: list[float] = []

    def observe(seconds: float) -> None:
        observed.append(seconds)
        m.observe_loop_lag(seconds)

    task = asyncio.create_task(monitor_loop_lag(observe, interval=0.05))
    try:
        for _ in range(200):  # bounded: let the monitor take a first sample
            if observed:
                break
            await asyncio.sleep(0.01)
        before = len(observed)
        time.sleep(0.5)  # noqa: ASYNC251 - blocking the loop on purpose
        for _ in range(200):
            if len(observed) > before:
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
    # The sleep that spanned the block woke at least 0.5 - 0.05 s late: a lower bound, not a race.
    assert max(observed) >= 0.45
    assert value(m, "stakepool_event_loop_lag_seconds_bucket", le="0.25") < value(
        m, "stakepool_event_loop_lag_seconds_count"
    )
