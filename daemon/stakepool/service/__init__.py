"""The composition root and the supervisor: every part built from ``Settings`` in one place
(``root``), its tasks run in one task group (``supervisor``); the demo is the same root with the
simulator plugged in (``demo``)."""
