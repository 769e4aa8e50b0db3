"""``kill -9`` of ``stakepool run`` at seeded random moments, start-up included, each time started
again on its database: its ledger ends identical to an undisturbed run's, no MQTT event is lost.

Once the disturbed daemon has settled its first epoch, it is killed again and again: half of the
kills strike during a start (at a random moment within its first second: imports, migrations,
genesis check, pool resolution, monitor restore), the others at a random moment within an
epoch of work after it said ``started``. The chain then runs five more
epochs and halts: the last start sees epochs close and finality move, as on a chain that goes on.
"""

from __future__ import annotations

from tests.reliability.conftest import MakeRig
from tests.reliability.rig import SOAK
from tests.reliability.tally import TALLY

KILLS = 100 if SOAK else 30


async def test_sigkill_at_random_moments_loses_nothing(rig: MakeRig) -> None:
    stage = await rig(seed=20261206, halt_epoch=10_000)
    dut = await stage.start()
    rng = stage.rng
    await stage.until("the dut's first settled epoch", lambda: dut.settled()[0] >= 1, 90)
    during_start_up = 0
    for n in range(KILLS):
        if n % 2 == 1:
            await stage.watch(rng.uniform(0.0, 1.0))
        else:
            await stage.until("the dut started", lambda: stage.started(dut), 60)
            await stage.watch(rng.uniform(0.0, stage.epoch_seconds))
        during_start_up += not stage.started(dut)
        dut.kill()
        TALLY.kills += 1
        stage.disturbances += 1
        await stage.watch(rng.uniform(0.0, 0.5))  # down for a while
        dut.start()
    stage.halt_at(stage.chain.head_slot // 8 + 5)
    out = await stage.finish()
    stage.assert_same(out)
    assert during_start_up >= KILLS // 4, during_start_up  # start-up kills really struck there
