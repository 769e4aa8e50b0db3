"""The command line: ``stakepool run | demo | sim | check-config | ledger export|statement | verify | version``."""

from stakepool.cli.main import EXIT_CONFIG, main

__all__ = ["EXIT_CONFIG", "main"]
