"""The MQTT tests' mosquitto fixture (one real broker per test), shared rather than copied: the
failover tests check the events and the pool's status an MQTT consumer sees."""

from __future__ import annotations

from tests.integration.mqtt.conftest import broker

__all__ = ["broker"]
