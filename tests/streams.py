"""The tests' name for :mod:`sim.streams` (tests import ``from streams import ...``): the seeded
stream drivers and monitors live there, in the package, because sim/'s Amaranth-simulator
runners use them too. Nothing is defined here."""

from sim.streams import Driver, Monitor, beat_bits, simulate, stream_get, stream_put

__all__ = ["stream_put", "stream_get", "beat_bits", "Driver", "Monitor", "simulate"]
