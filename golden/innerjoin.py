"""Reference and cycle model of the inner-join front end (hw/common/innerjoin.py).

The match order is :func:`golden.sparsemap.inner_join` (lowest position first, exclusive prefix
offsets); this module groups the matches into the beats the hardware emits and counts cycles.

Cycle contract of the block: a chunk with ``c`` matches costs ``max(1, ceil(c / M))`` beats (one
beat per cycle, ``M = matches_per_cycle``); a chunk without a match still costs one beat, flagged
"no match" (``n = 0``). Back to back and without stalls, a stream of chunks takes
``latency + sum(costs)`` cycles from the first input transfer to the last output transfer, where
``latency`` is the hardware's (:attr:`hw.common.innerjoin.InnerJoin.latency`), passed in by the
caller: golden/ does not import hw/.
"""

import numpy as np

from .sparsemap import check_chunk, inner_join

__all__ = ["join_beats", "join_cost", "join_costs", "stream_cycles"]

def _check_mpc(matches_per_cycle):
    if matches_per_cycle not in (1, 2, 4):
        raise ValueError(f"matches_per_cycle must be one of [1, 2, 4], not {matches_per_cycle!r}")
    return matches_per_cycle


def join_beats(mask_f, mask_a, chunk, matches_per_cycle=1):
    """The beats the hardware emits for one chunk pair.

    Returns a list of ``(lanes, last)``; ``lanes`` is a list of up to ``matches_per_cycle``
    ``(pos, off_f, off_a)`` tuples (empty for the single beat of a chunk without a match).
    """
    chunk = check_chunk(chunk)
    mpc = _check_mpc(matches_per_cycle)
    matches = inner_join(mask_f, mask_a, chunk)
    if not matches:
        return [([], True)]
    beats = [matches[i:i + mpc] for i in range(0, len(matches), mpc)]
    return [(b, i == len(beats) - 1) for i, b in enumerate(beats)]


def join_cost(n_matches, matches_per_cycle=1):
    """Cycles one chunk with ``n_matches`` matches occupies the join: ``max(1, ceil(n / M))``."""
    mpc = _check_mpc(matches_per_cycle)
    return max(1, -(-int(n_matches) // mpc))


def join_costs(counts, matches_per_cycle=1):
    """Vectorised :func:`join_cost` over an integer array of match counts."""
    mpc = _check_mpc(matches_per_cycle)
    counts = np.asarray(counts, dtype=np.int64)
    return np.maximum(1, -(-counts // mpc))


def stream_cycles(pairs, matches_per_cycle=1, *, latency):
    """Cycles from the first input transfer to the last output transfer of a stall-free stream of
    ``(mask_f, mask_a)`` pairs fed back to back: ``latency + sum(costs)`` (``latency``: cycles from
    an input transfer to the first output beat of that chunk, the join's)."""
    total = 0
    for f, a in pairs:
        total += join_cost(bin(int(f) & int(a)).count("1"), matches_per_cycle)
    return int(latency) + total
