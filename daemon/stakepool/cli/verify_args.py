"""The arguments of ``stakepool verify`` (light: the parser imports no network client)."""

from __future__ import annotations

import argparse

from stakepool.cli.options import integer, option, positive_float


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "verify",
        help="recompute a final period from the chain and check the published root and a proof",
    )
    option(p, "--period", env="STAKEPOOL_VERIFY_PERIOD", convert=integer, required=True,
           metavar="P", help="the final period to recompute")  # fmt: skip
    option(p, "--beacon", env="STAKEPOOL_VERIFY_BEACON", required=True, metavar="URL",
           help="a beacon node (archive for old periods)")  # fmt: skip
    option(p, "--delegations", env="STAKEPOOL_VERIFY_DELEGATIONS", required=True, metavar="FILE",
           help="the pool's delegations file (TOML or CSV)")  # fmt: skip
    option(p, "--policy", env="STAKEPOOL_VERIFY_POLICY", default="", metavar="K=V,...",
           shown="the pool defaults",
           help="fee_bps, fee_mode, loss_policy, operator_bond_gwei, fee_period_epochs")  # fmt: skip
    option(p, "--api", env="STAKEPOOL_VERIFY_API", metavar="URL",
           help="the daemon's HTTP address (published roots and rows)")  # fmt: skip
    option(p, "--root", env="STAKEPOOL_VERIFY_ROOT", metavar="HEX",
           help="the published root, when not read from --api")  # fmt: skip
    option(p, "--proof", env="STAKEPOOL_VERIFY_PROOF", metavar="FILE",
           help="a proof as GET /api/v1/delegators/{id}/proofs/{period} answers")  # fmt: skip
    option(p, "--delegator", env="STAKEPOOL_VERIFY_DELEGATOR", metavar="ID",
           help="fetch this delegator's proof from --api")  # fmt: skip
    option(p, "--period-epochs", env="STAKEPOOL_VERIFY_PERIOD_EPOCHS", convert=integer,
           metavar="N", shown="the commitment's", help="epochs per period")  # fmt: skip
    option(p, "--first-epoch", env="STAKEPOOL_VERIFY_FIRST_EPOCH", convert=integer, metavar="E",
           shown="from --api", help="the ledger's first epoch")  # fmt: skip
    option(p, "--validators", env="STAKEPOOL_VERIFY_VALIDATORS", metavar="LIST",
           shown="from --api", help="pool validator indices (1,2,5..9)")  # fmt: skip
    option(p, "--timeout", env="STAKEPOOL_VERIFY_TIMEOUT", convert=positive_float, default=30.0,
           metavar="SECONDS", help="per request")  # fmt: skip
