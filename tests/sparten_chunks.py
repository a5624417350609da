"""Random SparTen chunks for the unit and cluster tests: a dense vector and its SparseMap fields."""

import numpy as np

from golden.sparsemap import compact


def rand_chunk(rand, chunk, density):
    vec = np.array([rand.randrange(-128, 128) if rand.random() < density else 0
                    for _ in range(chunk)], dtype=np.int64)
    return vec


def chunk_fields(vec):
    mask, vals = compact(vec)
    return mask, list(vals) + [0] * (len(vec) - len(vals))
