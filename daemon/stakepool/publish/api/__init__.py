"""The ledger HTTP API (``/api/v1/…``): routes, JSON encoding, auth, and its OpenAPI document."""

from stakepool.publish.api.server import API_PREFIX, LedgerApi, openapi_document

__all__ = ["API_PREFIX", "LedgerApi", "openapi_document"]
