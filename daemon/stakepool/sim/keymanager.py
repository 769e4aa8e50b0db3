"""A simulated validator client's Keymanager API: the standard key routes, on a port of its own.

Like a real validator client it serves ``/eth/v1/keystores`` (list, import, delete) and
``/eth/v1/remotekeys`` (list, import, delete) behind a bearer token, so a test (or an operator
trying stakepool) imports and deletes keys while the daemon runs. Keys are the simulator's own
pubkeys (``ids.pubkey(i)``); an imported keystore is EIP-2335 JSON whose ``pubkey`` is read and
nothing else (there is no secret to decrypt in a simulation). The answers follow the official
Keymanager API spec (the tests validate them against it).
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from stakepool.sim import ids

_EMPTY_INTERCHANGE = json.dumps(
    {
        "metadata": {
            "interchange_format_version": "5",
            "genesis_validators_root": "0x" + "00" * 32,
        },
        "data": [],
    }
)
MAX_BODY_BYTES = 4 * 2**20


def _pubkey(raw: object) -> str | None:
    if not isinstance(raw, str):
        return None
    key = raw.lower()
    if not key.startswith("0x"):
        key = "0x" + key
    if len(key) != 98 or any(c not in "0123456789abcdef" for c in key[2:]):
        return None
    return key


class SimKeymanager:
    """``local`` and ``remote``: the validator indices whose keys it holds at the start."""

    def __init__(
        self,
        token: str,
        *,
        local: Iterable[int] = (),
        remote: Iterable[int] = (),
        signer_url: str = "http://127.0.0.1:9000",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.token = token
        self.local: dict[str, int | None] = {ids.pubkey(i): i for i in local}
        self.remote: dict[str, str] = {ids.pubkey(i): signer_url for i in remote}
        self.host = host
        self.port = port
        self.down = False
        """While True every request is refused with 503 (a validator client being restarted)."""
        self._runner: web.AppRunner | None = None

    # --- what a test does while the daemon runs -------------------------------------------------

    def import_local(self, *indices: int) -> None:
        for i in indices:
            self.local[ids.pubkey(i)] = i

    def delete_local(self, *indices: int) -> None:
        for i in indices:
            self.local.pop(ids.pubkey(i), None)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # --- the server ------------------------------------------------------------------------------

    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._auth], client_max_size=MAX_BODY_BYTES)
        r = app.router
        r.add_get("/eth/v1/keystores", self.list_keys, name="listKeys")
        r.add_post("/eth/v1/keystores", self.import_keystores, name="importKeystores")
        r.add_delete("/eth/v1/keystores", self.delete_keys, name="deleteKeys")
        r.add_get("/eth/v1/remotekeys", self.list_remote, name="listRemoteKeys")
        r.add_post("/eth/v1/remotekeys", self.import_remote, name="importRemoteKeys")
        r.add_delete("/eth/v1/remotekeys", self.delete_remote, name="deleteRemoteKeys")
        return app

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if self.down:
            return _error(503, "validator client is restarting")
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if not given:
            return _error(401, "missing bearer token")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip(), self.token):
            return _error(403, "wrong bearer token")
        answer: web.StreamResponse = await handler(request)
        return answer

    async def start(self) -> None:
        runner = web.AppRunner(self.build_app(), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        await web.TCPSite(runner, self.host, self.port).start()
        self.port = int(runner.addresses[0][1])
        self._runner = runner

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def serve_forever(self) -> None:
        await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()

    # --- handlers --------------------------------------------------------------------------------

    async def list_keys(self, _request: web.Request) -> web.Response:
        data = [
            {
                "validating_pubkey": key,
                "derivation_path": f"m/12381/3600/{i}/0/0",
                "readonly": False,
            }
            for key, i in sorted(self.local.items())
        ]
        return web.json_response({"data": data})

    async def import_keystores(self, request: web.Request) -> web.Response:
        body = await _body(request)
        keystores, passwords = body.get("keystores"), body.get("passwords")
        if not isinstance(keystores, list) or not isinstance(passwords, list):
            return _error(400, "keystores and passwords must be arrays")
        if len(keystores) != len(passwords):
            return _error(400, "one password per keystore")
        results: list[dict[str, str]] = []
        for text in keystores:
            try:
                keystore = json.loads(text) if isinstance(text, str) else None
            except ValueError:
                keystore = None
            key = _pubkey(keystore.get("pubkey")) if isinstance(keystore, dict) else None
            if key is None:
                results.append({"status": "error", "message": "not an EIP-2335 keystore"})
            elif key in self.local:
                results.append({"status": "duplicate"})
            else:
                self.local[key] = ids.index_of_pubkey(key)
                results.append({"status": "imported"})
        return web.json_response({"data": results})

    async def delete_keys(self, request: web.Request) -> web.Response:
        pubkeys = (await _body(request)).get("pubkeys")
        if not isinstance(pubkeys, list):
            return _error(400, "pubkeys must be an array")
        results: list[dict[str, str]] = []
        for raw in pubkeys:
            key = _pubkey(raw)
            if key is not None and key in self.local:
                del self.local[key]
                results.append({"status": "deleted"})
            else:
                results.append({"status": "not_found"})
        return web.json_response({"data": results, "slashing_protection": _EMPTY_INTERCHANGE})

    async def list_remote(self, _request: web.Request) -> web.Response:
        data = [
            {"pubkey": key, "url": url, "readonly": False}
            for key, url in sorted(self.remote.items())
        ]
        return web.json_response({"data": data})

    async def import_remote(self, request: web.Request) -> web.Response:
        keys = (await _body(request)).get("remote_keys")
        if not isinstance(keys, list):
            return _error(400, "remote_keys must be an array")
        results: list[dict[str, str]] = []
        for entry in keys:
            key = _pubkey(entry.get("pubkey")) if isinstance(entry, dict) else None
            if key is None:
                results.append({"status": "error", "message": "pubkey missing or malformed"})
            elif key in self.remote:
                results.append({"status": "duplicate"})
            else:
                url = entry.get("url") if isinstance(entry, dict) else None
                self.remote[key] = url if isinstance(url, str) else "http://127.0.0.1:9000"
                results.append({"status": "imported"})
        return web.json_response({"data": results})

    async def delete_remote(self, request: web.Request) -> web.Response:
        pubkeys = (await _body(request)).get("pubkeys")
        if not isinstance(pubkeys, list):
            return _error(400, "pubkeys must be an array")
        results: list[dict[str, str]] = []
        for raw in pubkeys:
            key = _pubkey(raw)
            if key is not None and key in self.remote:
                del self.remote[key]
                results.append({"status": "deleted"})
            else:
                results.append({"status": "not_found"})
        return web.json_response({"data": results})


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(
            text=json.dumps({"message": "body is not JSON"}), content_type="application/json"
        ) from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(
            text=json.dumps({"message": "body must be an object"}), content_type="application/json"
        )
    return body


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"message": message}, status=status)
