"""stakepool: a sidecar daemon for a Proof-of-Stake staking pool."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("stakepool")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+unknown"
