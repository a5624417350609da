"""Random flow control of RTL runs: idle cycles on inputs and backpressure on outputs.

Every runner (cocotb benches, the Amaranth-simulator script runner, the engines' ``run_*``) takes an
``idle`` and a ``backpressure`` probability per cycle; they are checked here, once.
"""

__all__ = ["MAX_STALL", "check_stall"]

#: Probabilities must lie in ``0 <= p < MAX_STALL``: at 1 a stream would never move.
MAX_STALL = 0.95


def check_stall(name, p):
    """Return ``p`` as a float; raise ``ValueError`` naming ``name`` unless it is a number in
    ``0..MAX_STALL`` (exclusive)."""
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < MAX_STALL:
        raise ValueError(f"{name} must be a probability in 0..{MAX_STALL}, not {p!r}")
    return float(p)
