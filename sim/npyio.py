"""Reading the integer arrays that ``sparse-hw run`` takes, with one-line errors for bad files."""

import numpy as np

__all__ = ["load_int_array"]


def load_int_array(path, what, layout):
    """Load ``path`` (.npy) as an integer array laid out as ``layout`` (e.g. ``"[K,C,R,S]"``).

    The rank is taken from ``layout``; a missing file, a non-array file, the wrong rank or a
    non-integer dtype raises ``ValueError`` naming ``what`` and the file. Value ranges are checked
    later by golden/ (``check_int_array``), which names the offending value.
    """
    ndim = layout.count(",") + 1
    if not path.is_file():
        raise ValueError(f"{what} file {str(path)!r} does not exist")
    try:
        x = np.load(path, allow_pickle=False)
    except Exception as e:
        raise ValueError(f"{what} file {str(path)!r} is not a .npy array ({e})") from None
    if not isinstance(x, np.ndarray):
        raise ValueError(f"{what} file {str(path)!r} holds no single array")
    if x.ndim != ndim:
        raise ValueError(f"{what} must be {layout}, {str(path)!r} has shape {x.shape}")
    if x.dtype.kind not in "iu":
        raise ValueError(f"{what} must be int8, {str(path)!r} holds {x.dtype}")
    return x
