"""SparTen load balancing: which filters share a round of the cluster (GB-S and GB-H).

The SparTen top runs a layer's K output channels in rounds of ``n_units`` filters, one filter per
compute unit. Every unit of a round sees the same broadcast activation chunk and the next chunk is
accepted only when every unit has finished the current one (the implicit barrier), so a round costs,
per activation chunk, the **largest** number of matches among its units. Balancing chooses which
filters share a round so that filters of similar work run together and the barrier wastes little.

The assignment is a permutation ``perm`` of length ``rounds * n_units`` (``rounds = ceil(K /
n_units)``): ``perm[slot]`` is the output channel computed in ``slot = round * n_units + unit``, or
``-1`` for an empty slot (only when ``K`` is not a multiple of ``n_units``). The hardware writes each
result to the address of its channel (the un-permute of the output path), so any ``perm`` gives the
same output tensor; only the cycle count changes.

Methods (``assign(..., method=...)``):

``"none"``
    Identity order: channel ``k`` in slot ``k``; the empty slots are the last ones.

``"gbs"`` (greedy balancing, software; SparTen's GB-S)
    Filters sorted by whole-filter density (non-zero count, heaviest first, ties by channel index)
    and cut into consecutive rounds. *(ours where the paper is silent)*: the empty slots go to the
    last, lightest round. Reason: the cost of a round is the maximum of its members, so with
    filters sorted by work the sum over rounds of the maxima only shrinks when the earlier (heavier)
    rounds are full; a short round belongs at the light end.

``"gbh"`` (greedy balancing, hybrid; SparTen's GB-H)
    Finer-grain density: each filter is described by its *profile*, the non-zero count of each of
    its chunks (one per filter tap and channel chunk, i.e. exactly the unit of work that meets one
    broadcast activation chunk), optionally weighted by the activation density of every channel.
    The objective is the barrier cost summed chunk by chunk, ``sum over rounds and chunks of the max
    over the round's filters of the chunk's work`` (:func:`round_cost`). *(ours)*: we start from the
    better of GB-S and the identity order under that objective, then improve it by swapping pairs
    of filters (or a filter and an empty slot) between two rounds, for every pair of rounds the swap
    of largest gain, until no swap gains or ``max_passes`` passes are done. Reason: whole-filter
    density puts two filters of equal totals in one round even when their work sits in different chunks (one
    heavy where the other is light), which the per-chunk barrier pays for twice; pairwise exchange
    under the exact per-chunk objective fixes precisely that, never makes the objective worse than
    its start, and costs ``O(rounds^2 * n_units^2 * chunks)`` per pass, well under a second for
    VGG-16 layers. In the paper GB-H's hardware permutation network restores output order because
    the filter placement no longer follows the channel order; in our top the un-permute configured
    from ``perm`` does the same, so GB-H costs no extra hardware over GB-S here. *(ours)*: one
    assignment per layer, because our top loads one slot table per layer; re-assigning filters
    chunk by chunk would need the accumulators to follow the filters between units.

What balancing can and cannot do: it evens out work that is known offline (filter densities and
where in a filter the non-zeros sit). The matches of a chunk also depend on the activation mask,
which changes with every position; that spread stays, and at the per-chunk barrier it is most of
the loss on VGG-16-like layers (see sim/bench_sparten.py), so GB-H gains little over GB-S there.

The objective is a proxy (it charges the expected work of a chunk, not the exact matches with the
activations of each position); :mod:`golden.sparten_model` gives the exact cycle count of a ``perm``.
"""

import numpy as np

__all__ = ["METHODS", "assign", "check_perm", "identity_perm", "inverse_perm", "n_rounds",
           "filter_profile", "round_cost"]

METHODS = ("none", "gbs", "gbh")
DEFAULT_CHUNK = 128


def n_rounds(n_filters, n_units):
    """Rounds needed for ``n_filters`` filters on ``n_units`` units (``ceil``)."""
    _check_positive_int("n_units", n_units)
    _check_positive_int("K", n_filters)
    return -(-n_filters // n_units)


def identity_perm(n_filters, n_units):
    """The ``"none"`` assignment: channel ``k`` in slot ``k``, ``-1`` in the trailing empty slots."""
    perm = np.full(n_rounds(n_filters, n_units) * n_units, -1, dtype=np.int64)
    perm[:n_filters] = np.arange(n_filters)
    return perm


def check_perm(perm, n_filters, n_units):
    """Validate a slot -> channel assignment and return it as a 1-D ``int64`` array (a copy).

    Raises
    ------
    TypeError
        ``perm`` is not an integer array.
    ValueError
        Wrong length (must be ``ceil(K / n_units) * n_units``), an entry outside ``-1..K-1``, or a
        channel missing or repeated.
    """
    _check_positive_int("n_units", n_units)
    _check_positive_int("K", n_filters)
    arr = np.asarray(perm)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"perm must be an integer array, not dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"perm must be 1-D, not of shape {arr.shape}")
    arr = arr.astype(np.int64)
    want = n_rounds(n_filters, n_units) * n_units
    if arr.size != want:
        raise ValueError(f"perm has {arr.size} slots; K={n_filters} on n_units={n_units} needs "
                         f"{want} (ceil(K/n_units) rounds of n_units)")
    bad = (arr < -1) | (arr >= n_filters)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"perm[{i}] = {int(arr[i])} is outside -1..{n_filters - 1}")
    counts = np.bincount(arr[arr >= 0], minlength=n_filters)
    if (counts != 1).any():
        rep = np.flatnonzero(counts > 1)[:8].tolist()
        miss = np.flatnonzero(counts == 0)[:8].tolist()
        parts = ([f"output channel(s) {rep} repeated"] if rep else []) + \
            ([f"output channel(s) {miss} missing"] if miss else [])
        raise ValueError(f"perm is not a permutation of 0..{n_filters - 1}: " + ", ".join(parts))
    return arr


def inverse_perm(perm, n_filters, n_units):
    """Slot of every output channel: ``inv[k] = slot`` with ``perm[slot] == k`` (validates ``perm``)."""
    arr = check_perm(perm, n_filters, n_units)
    inv = np.empty(n_filters, dtype=np.int64)
    slots = np.flatnonzero(arr >= 0)
    inv[arr[slots]] = slots
    return inv


def filter_profile(w, chunk=None, act_density=None):
    """Work of every filter chunk: ``profile[k, r, s, j]`` = non-zeros of chunk ``j`` of tap ``(r, s)``.

    Parameters
    ----------
    w : np.ndarray [K, C, R, S] or SparseMap of filters
        Weights (only which elements are non-zero matters).
    chunk : int or None
        Chunk size; taken from the SparseMap, else :data:`DEFAULT_CHUNK` (SparTen's 128).
    act_density : array-like [C] of float or None
        Optional density of the activations of each input channel (0..1): each non-zero weight
        then counts its channel's density, i.e. its expected number of matches.

    Returns
    -------
    np.ndarray [K, R, S, ceil(C / chunk)] of int64 (float64 with ``act_density``)
    """
    nz, chunk = _nonzero_mask(w, chunk)
    K, C, R, S = nz.shape
    n_ch = -(-C // chunk)
    weight = nz.astype(np.float64 if act_density is not None else np.int64)
    if act_density is not None:
        d = np.asarray(act_density, dtype=np.float64)
        if d.shape != (C,):
            raise ValueError(f"act_density must have one entry per input channel ({C}), not shape "
                             f"{d.shape}")
        if not np.all((d >= 0) & (d <= 1)):
            raise ValueError("act_density must lie in 0..1")
        weight = weight * d[None, :, None, None]
    pad = np.zeros((K, n_ch * chunk - C, R, S), dtype=weight.dtype)
    weight = np.concatenate([weight, pad], axis=1).reshape(K, n_ch, chunk, R, S)
    return weight.sum(axis=2).transpose(0, 2, 3, 1)


def round_cost(profile, perm, n_units):
    """Balancing objective: sum over rounds and chunks of the largest work in the round.

    ``profile`` is [K, ...] (any trailing shape, e.g. from :func:`filter_profile`); empty slots cost
    nothing. With a whole-filter profile ([K]) this is the GB-S view, with per-chunk profiles the
    GB-H view.
    """
    prof = np.asarray(profile)
    prof2 = prof.reshape(prof.shape[0], -1)
    arr = check_perm(perm, prof2.shape[0], n_units)
    return _rounds_matrix(prof2, arr, n_units).max(axis=1).sum()


def assign(w, n_units, method="none", chunk=None, act_density=None, max_passes=None):
    """Assign the filters of a layer to ``(round, unit)`` slots.

    Parameters
    ----------
    w : np.ndarray [K, C, R, S] or SparseMap of filters
    n_units : int
        Compute units of the cluster (filters per round).
    method : ``"none"`` | ``"gbs"`` | ``"gbh"``
        See the module docstring.
    chunk : int or None
        Chunk size for GB-H's profile (taken from a SparseMap; default 128).
    act_density : array-like [C] or None
        Optional per-input-channel activation density weighting GB-H's profile.
    max_passes : int or None
        Cap on GB-H's exchange passes over all pairs of rounds (default 16; every applied swap
        strictly lowers the objective, so it also stops by itself).

    Returns
    -------
    np.ndarray of int64, length ``ceil(K / n_units) * n_units``
        ``perm[round * n_units + unit]`` = output channel, ``-1`` for an empty slot.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)!r}, not {method!r}")
    _check_positive_int("n_units", n_units)
    nz, chunk = _nonzero_mask(w, chunk)
    K = nz.shape[0]
    if method == "none":
        return identity_perm(K, n_units)
    totals = nz.reshape(K, -1).sum(axis=1)
    gbs = _sorted_perm(totals, n_units)
    if method == "gbs":
        return gbs
    prof = filter_profile(nz, chunk, act_density).reshape(K, -1)
    start = min((gbs, identity_perm(K, n_units)), key=lambda p: round_cost(prof, p, n_units))
    passes = 16 if max_passes is None else max_passes
    return _improve_by_swaps(prof, start, n_units, passes)


# -- internals ------------------------------------------------------------------------------------

def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, not {value!r}")


def _nonzero_mask(w, chunk):
    """(bool [K, C, R, S] of non-zero weights, chunk) from a dense array or a filter SparseMap."""
    if hasattr(w, "decode") and hasattr(w, "chunk"):
        if chunk is not None and chunk != w.chunk:
            raise ValueError(f"chunk={chunk!r} disagrees with the SparseMap's chunk {w.chunk!r}")
        chunk = w.chunk
        w = w.decode()
    arr = np.asarray(w)
    if arr.dtype == bool:
        nz = arr
    elif np.issubdtype(arr.dtype, np.number):
        nz = arr != 0
    else:
        raise TypeError(f"weights must be a numeric array, not dtype {arr.dtype}")
    if nz.ndim != 4:
        raise ValueError(f"weights must be [K, C, R, S], not of shape {nz.shape}")
    if 0 in nz.shape:
        raise ValueError(f"weights must not be empty, shape {nz.shape}")
    chunk = DEFAULT_CHUNK if chunk is None else chunk
    if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1 \
            or chunk & (chunk - 1):
        raise ValueError(f"chunk must be a power of two, not {chunk!r}")
    return nz, int(chunk)


def _sorted_perm(totals, n_units):
    """GB-S: channels by decreasing work (stable), cut into rounds; empty slots last."""
    order = np.argsort(-np.asarray(totals), kind="stable")
    perm = np.full(n_rounds(len(order), n_units) * n_units, -1, dtype=np.int64)
    perm[:len(order)] = order
    return perm


def _rounds_matrix(prof2, perm, n_units):
    """[rounds, n_units, T] work per slot (zeros for empty slots)."""
    padded = np.concatenate([prof2, np.zeros((1, prof2.shape[1]), dtype=prof2.dtype)])
    return padded[perm].reshape(-1, n_units, prof2.shape[1])  # index -1 picks the zero row


def _excluding_max(m):
    """[U, T]: for every member u, the max over the other members (2nd max where u is the argmax)."""
    if m.shape[0] == 1:
        return np.zeros_like(m)
    top2 = np.partition(m, -2, axis=0)[-2:]
    arg = m.argmax(axis=0)
    out = np.broadcast_to(top2[1], m.shape).copy()
    cols = np.arange(m.shape[1])
    out[arg, cols] = top2[0]
    return out


def _improve_by_swaps(prof2, perm, n_units, max_passes):
    """Pairwise exchange between rounds under :func:`round_cost` (see the module doc).

    A pass visits every pair of rounds and applies that pair's best swap when it lowers the
    objective; passes repeat until one changes nothing or ``max_passes`` passes are done.
    """
    perm = perm.copy()
    n_r = perm.size // n_units
    if n_r < 2:
        return perm
    work = _rounds_matrix(prof2, perm, n_units)
    cost = work.max(axis=1).sum(axis=1)
    excl = [_excluding_max(work[r]) for r in range(n_r)]
    # Integer profiles compare exactly; float (density-weighted) ones need a margin for round-off.
    eps = 1e-9 if work.dtype.kind == "f" else 0
    for _ in range(max_passes):
        changed = False
        for a in range(n_r):
            for b in range(a + 1, n_r):
                # new_a[i, j]: round a with its member i replaced by member j of round b; new_b alike.
                new_a = np.maximum(excl[a][:, None, :], work[b][None, :, :]).sum(axis=2)
                new_b = np.maximum(excl[b][None, :, :], work[a][:, None, :]).sum(axis=2)
                gain = cost[a] + cost[b] - new_a - new_b
                i, j = np.unravel_index(np.argmax(gain), gain.shape)
                if not gain[i, j] > eps:
                    continue
                sa, sb = a * n_units + i, b * n_units + j
                perm[sa], perm[sb] = perm[sb], perm[sa]
                row = work[a, i].copy()
                work[a, i] = work[b, j]
                work[b, j] = row
                for r in (a, b):
                    cost[r] = work[r].max(axis=0).sum()
                    excl[r] = _excluding_max(work[r])
                changed = True
        if not changed:
            break
    return perm
