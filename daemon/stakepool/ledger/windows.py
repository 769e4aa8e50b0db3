"""Where the feed gets a rewards window: read ahead, kept durably, or read now — with retries.

A window ``k`` is read from the node as soon as epoch ``k`` closes (``read_ahead``) and kept twice:
in memory for the settlement one epoch later, and in the database (``KeptWindows``) so that neither
a restart nor a node that prunes the window's states (stock Lodestar forgets them two epochs after
finality) can make it unreadable before it is settled. ``window(k)`` uses the first of those that
still matches the canonical chain (its last block is canonical; a reorg mark drops the rest), and
reads the node otherwise.

Every read from the node is retried within the epoch (``delays``: short, tied to the slot by the
caller) before it counts as failed: one malformed answer or a 503 then costs a retry, not an epoch
of lag. What still fails is raised to the feed, which says so and tries again at the next close.
A window read without its explanation (a failed rewards answer) is asked for it again the same
way, at its read and before it is settled, so its row is not settled unexplained for one answer.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import structlog

from stakepool.beacon.errors import BeaconError, NotFound
from stakepool.ledger.store.windows_sql import KeptBody, KeptWindows
from stakepool.rewards import codec
from stakepool.rewards.fetcher import WindowNotReady
from stakepool.rewards.tracker import RewardsTracker
from stakepool.rewards.types import EpochRewards

T = TypeVar("T")
log = structlog.get_logger(__name__)

_KEEP_AHEAD = 4
"""Read-ahead windows kept in memory while the ledger is stuck on an earlier one (a big pool's
windows are large; the database keeps them all until they are final)."""
DEFAULT_DELAYS = (0.25, 0.5, 1.0)
PACKED = "json+zlib"
PACK_LEVEL = 1
"""zlib's fastest level: 51 MB of a 100,000-validator window's JSON packed to 2.0 MB in 85 ms
(level 6: 1.7 MB in 180 ms)."""
UNPACK_LIMIT = 1 << 31
"""A kept body that would unpack past 2 GiB is not a window this daemon wrote."""


def unpacked(body: KeptBody) -> bytes:
    """A kept window's JSON; ``ValueError`` for a body this daemon cannot have written."""
    if body.encoding == "json":
        return body.data
    if body.encoding != PACKED:
        raise ValueError(f"unknown kept-window encoding {body.encoding!r}")
    unpacker = zlib.decompressobj()
    try:
        text = unpacker.decompress(body.data, UNPACK_LIMIT)
    except zlib.error as exc:
        raise ValueError(f"kept window does not unpack: {exc}") from exc
    if unpacker.unconsumed_tail or not unpacker.eof:
        raise ValueError("kept window truncated or larger than any window")
    return text


def packed(window: EpochRewards) -> bytes:
    """``window``'s JSON, compressed as it is encoded: a 100,000-validator window is ~50 MB of
    JSON and ~2 MB packed, so neither the whole text nor its copies are ever held."""
    packer = zlib.compressobj(PACK_LEVEL)
    parts = [packer.compress(piece) for piece in codec.encode_bytes([window])]
    parts.append(packer.flush())
    return b"".join(parts)


async def keep_packed(kept: KeptWindows, window: EpochRewards) -> None:
    """Keep ``window`` in the database, packed in a worker thread: ~0.2 s at 100,000
    validators, in stretches of one ~10,000-row piece (the encoder and zlib hand the GIL back
    between them), which on the loop had held everything else up."""
    body = await asyncio.to_thread(packed, window)
    await kept.keep(window.epoch, window.block_roots, KeptBody(body, PACKED))


async def read_kept(kept: KeptWindows, epoch: int) -> EpochRewards | None:
    """Window ``epoch`` as kept in the database (``None``: not kept, or unreadable)."""
    body = await kept.get(epoch)
    if body is None:
        return None
    try:
        return codec.decode(unpacked(body))[0]
    except (ValueError, IndexError) as exc:
        log.warning("ledger_kept_window_unreadable", epoch=epoch, error=str(exc))
        return None


class WrongChainArchive(BeaconError):
    """The configured archive node is on another chain: never used."""


class WindowSource:
    def __init__(
        self,
        tracker: RewardsTracker,
        kept: KeptWindows,
        *,
        delays: Sequence[float] = DEFAULT_DELAYS,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        archive: RewardsTracker | None = None,
    ) -> None:
        self.tracker = tracker
        self.archive = archive
        """``[beacon] archive_urls``: asked for a window whose states no node serves any more."""
        self._archive_checked = False
        self.kept = kept
        self.delays = tuple(delays)
        self.sleep = sleep
        self._ahead: dict[int, list[EpochRewards]] = {}

    async def read_ahead(self, epoch: int) -> None:
        """Read window ``epoch`` now (its states exist now) and keep it; a failure is not lost:
        the settlement reads it again."""
        if epoch < 1 or epoch in self._ahead:
            return
        try:
            windows = await self.retrying("read_ahead", epoch, lambda: self.tracker.close(epoch))
        except (BeaconError, WindowNotReady) as exc:
            log.info("ledger_window_read_ahead_failed", epoch=epoch, error=str(exc))
            return
        windows = await self._explain_again(epoch, windows)
        self._ahead[epoch] = windows
        await self._keep(windows)
        for old in sorted(self._ahead)[:-_KEEP_AHEAD]:
            del self._ahead[old]

    async def window(self, epoch: int) -> list[EpochRewards]:
        """Window ``epoch`` (and earlier ones explained since), from the freshest source that is
        still canonical; raises ``BeaconError``/``WindowNotReady`` once the retries failed."""
        ahead = self._ahead.pop(epoch, None)
        if ahead is not None and await self._still_canonical(ahead[0]):
            return await self._explained_kept(epoch, ahead)
        kept = await self.kept_window(epoch)
        if kept is not None and kept.block_roots and await self._still_canonical(kept):
            return await self._explained_kept(epoch, [kept])
        try:
            windows = await self.retrying("window", epoch, lambda: self.tracker.close(epoch))
        except NotFound as gone:
            if kept is not None and not kept.block_roots:
                # A window without blocks pins nothing a reorg could be checked against, so it
                # is read again while the node can; once it cannot, the kept one is all there is.
                return [kept]
            windows = await self._from_archive(epoch, gone)
        windows = await self._explain_again(epoch, windows)
        await self._keep(windows)
        return windows

    async def _explained_kept(self, epoch: int, windows: list[EpochRewards]) -> list[EpochRewards]:
        """A window read earlier, explained now if it was not then (kept again if so)."""
        again = await self._explain_again(epoch, windows)
        if again[0] is not windows[0]:
            await self.keep_window(again[0])
        return again

    async def _explain_again(self, epoch: int, windows: list[EpochRewards]) -> list[EpochRewards]:
        """Window ``epoch`` (the first) asked again for its explanation, a few times within the
        close, when the node could not give it (an answer failed, or the rewards endpoints did
        not serve it yet). Why before settling: a row settled unexplained takes its explanation
        later only while it is provisional; a row final by then keeps the input digest of an
        unexplained settlement, unlike the same row settled by an undisturbed run."""
        first = windows[0]
        if first.epoch != epoch or first.explanation_available or first.explanation_never:
            return windows
        for delay in self.delays:
            await self.sleep(delay)
            again = await self.tracker.fetcher.explain(first)
            if again.explanation_available or again.explanation_never:
                self.tracker.waiting.pop(epoch, None)  # explained: the tracker need not ask
                log.info("ledger_window_explained_on_retry", epoch=epoch)
                return [again, *windows[1:]]
        return windows

    async def _from_archive(self, epoch: int, gone: NotFound) -> list[EpochRewards]:
        """Window ``epoch`` from an archive node; ``gone`` again when there is none or it cannot
        serve it either (the feed then merges the span)."""
        archive = self.archive
        if archive is None:
            raise gone
        try:
            if not self._archive_checked:
                await self._check_archive(archive)
            windows = await self.retrying("archive", epoch, lambda: archive.close(epoch))
        except (BeaconError, WindowNotReady) as exc:
            log.info("ledger_archive_failed", epoch=epoch, error=str(exc))
            raise gone from exc
        log.info("ledger_window_from_archive", epoch=epoch)
        return windows

    async def _check_archive(self, archive: RewardsTracker) -> None:
        """An archive on another chain would pay from another chain's balances: refused for good."""
        genesis = await archive.fetcher.client.node.genesis()
        expected = self.tracker.fetcher.spec.genesis_validators_root
        if genesis.genesis_validators_root.lower() != expected.lower():
            log.error(
                "ledger_archive_wrong_chain",
                archive=archive.fetcher.client.urls,
                genesis_validators_root=genesis.genesis_validators_root,
                expected=expected,
            )
            self.archive = None
            raise WrongChainArchive(
                "archive", f"on another chain (genesis root {genesis.genesis_validators_root})"
            )
        self._archive_checked = True

    async def kept_window(self, epoch: int) -> EpochRewards | None:
        """Window ``epoch`` as kept in the database (``None``: not kept, or unreadable)."""
        return await read_kept(self.kept, epoch)

    async def keep_window(self, window: EpochRewards) -> None:
        await keep_packed(self.kept, window)

    def forget_from(self, epoch: int) -> None:
        """A reorg changed ``epoch`` and later: what was read ahead from there is not used."""
        for e in [e for e in self._ahead if e >= epoch]:
            del self._ahead[e]

    async def drop_kept_from(self, epoch: int) -> None:
        await self.kept.drop(epoch, None)

    def forget_before(self, epoch: int) -> None:
        for e in [e for e in self._ahead if e < epoch]:
            del self._ahead[e]

    async def prune(self, last_final: int | None, last_settled: int | None) -> None:
        """Final windows are never needed again, but the last settled one is the start a merged
        window settles from."""
        if last_final is None or last_settled is None:
            return
        await self.kept.drop(None, min(last_final, last_settled - 1))

    async def retrying(self, what: str, epoch: int, call: Callable[[], Awaitable[T]]) -> T:
        for attempt, delay in enumerate((*self.delays, None)):
            try:
                return await call()
            except (BeaconError, WindowNotReady) as exc:
                if delay is None or isinstance(exc, WindowNotReady):
                    raise
                log.info(
                    "ledger_window_retry",
                    what=what,
                    epoch=epoch,
                    attempt=attempt + 1,
                    error=str(exc),
                )
                await self.sleep(delay)
        raise AssertionError("unreachable")  # the last delay is None: it returns or raises

    async def _keep(self, windows: list[EpochRewards]) -> None:
        for window in windows:
            await self.keep_window(window)

    async def _still_canonical(self, window: EpochRewards) -> bool:
        if not window.block_roots:
            return True  # nothing to pin: a reorg that fills it is a chain_reorg (dirty mark)
        header = await self.retrying(
            "canonical_check",
            window.epoch,
            lambda: self.tracker.fetcher.client.blocks.header(window.block_roots[-1]),
        )
        return header is not None and header.data.canonical
