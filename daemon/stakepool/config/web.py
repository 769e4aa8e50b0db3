"""``[web]``: the read-only web page the daemon serves at ``/`` (docs/web.md).

``enabled`` unset means "on when the HTTP listener is loopback only": a page bound to a public
address shows the pool's figures to anyone who can reach the port, so the operator opts in to that.
"""

from __future__ import annotations

import ipaddress

from pydantic import Field

from stakepool.config.base import _Section


class WebSettings(_Section):
    enabled: bool | None = None
    """``None``: on when ``[http] host`` is a loopback address (or ``localhost``), off otherwise."""
    delegator_pages: bool = True
    """Off: only the pool pages; ``/delegators/{id}`` and its downloads answer 404."""
    notice_period_epochs: int = Field(default=0, ge=0, le=1_000_000)
    """The operator's own notice before a withdrawal request is acted on (shown in the terms)."""
    network_refresh_seconds: float = Field(default=3600.0, ge=0, le=86_400)
    """How often the page re-reads the whole validator set for the exit-queue and sweep delays
    (one large request on mainnet); 0: never (the page says "unknown")."""

    def is_enabled(self, http_host: str) -> bool:
        if self.enabled is not None:
            return self.enabled
        return is_loopback(http_host)


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
