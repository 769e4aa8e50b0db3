"""The faces of stakepool: metrics, MQTT, HTTP API."""
