"""Protocol knowledge without I/O: spec parameters, the clock, typed ids, bitfields."""
