"""The MQTT tests' broker fixture, for the secret-grep test."""

from tests.integration.mqtt.conftest import broker

__all__ = ["broker"]
