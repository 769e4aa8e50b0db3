"""The arguments of ``stakepool verify`` (light: the parser imports no network client)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "verify",
        help="recompute a final period from the chain and check the published root and a proof",
    )
    p.add_argument("--period", type=int, required=True, metavar="P")
    p.add_argument(
        "--beacon", required=True, metavar="URL", help="a beacon node (archive for old periods)"
    )
    p.add_argument(
        "--delegations",
        required=True,
        metavar="FILE",
        help="the pool's delegations file (TOML or CSV)",
    )
    p.add_argument(
        "--policy",
        default="",
        metavar="K=V,...",
        help="fee_bps, fee_mode, loss_policy, operator_bond_gwei, fee_period_epochs",
    )
    p.add_argument(
        "--api", metavar="URL", help="the daemon's HTTP address (published roots and rows)"
    )
    p.add_argument("--root", metavar="HEX", help="the published root, when not read from --api")
    p.add_argument(
        "--proof",
        metavar="FILE",
        help="a proof as GET /api/v1/delegators/{id}/proofs/{period} answers",
    )
    p.add_argument("--delegator", metavar="ID", help="fetch this delegator's proof from --api")
    p.add_argument("--period-epochs", type=int, metavar="N", help="default: the commitment's")
    p.add_argument(
        "--first-epoch", type=int, metavar="E", help="the ledger's first epoch; default from --api"
    )
    p.add_argument(
        "--validators", metavar="LIST", help="pool validator indices (1,2,5..9); default from --api"
    )
    p.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS")
