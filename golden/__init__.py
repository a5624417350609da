"""Exact NumPy golden model of sparse convolution (pure NumPy; torch only inside interop calls).

Modules
-------
sparsemap
    SparTen's SparseMap (bitmask + packed non-zeros, channel-innermost chunks), inner join.
nm
    N:M structured compression and PyTorch-compatible 2:4 metadata.
conv
    Exact convolution: fast dense reference (im2col), SparTen inner-join order, FC, ReLU.
quant
    Requantisation (round half up, saturate) and the output path back to SparseMap.

Additions to / deviations from ``notes/golden_api.md``
-----------------------------------------------------
* 2:4 padding of groups with fewer than two non-zeros follows PyTorch exactly, which is NOT
  "lowest unused indices": all-zero -> (2,3), only 0 -> (0,2), only 1 -> (1,2), only 2 -> (2,3),
  only 3 -> (2,3). Other ratios pad with the lowest unused indices.
* ``meta_2to4_pack(indices, word_bits=16)`` packs nibbles into words *before* PyTorch's CUTLASS
  reordering (int16 words, PyTorch's half layout; ``word_bits=32`` gives int32, PyTorch's int8
  layout). ``meta_cutlass_reorder``/``meta_cutlass_unreorder`` add/remove the reordering.
* ``to_torch_2to4(w, dtype="int8", as_torch=False)`` returns NumPy arrays bit-identical to
  ``sparse_semi_structured_from_dense_cutlass`` (int8 values + int32 meta by default, or
  ``dtype="float16"``: float16 values + int16 meta); ``as_torch=True`` gives torch tensors.
  PyTorch itself needs rows % 16 (int8) / 32 (float16) and K % 64 (int8) / 32 (float16).
* ``check_nm`` accepts any ratio with m a power of two in 1..256 and 1 <= n <= m; ``SUPPORTED`` lists
  the tested ones.
* ``requantize(acc, multiplier, shift, out_bits=8, acc_bits=32, signed=True)``: multiplier
  1..2**31-1, shift 0..62, both may be arrays broadcasting against ``acc`` (per channel).
* Extra helpers: ``sparsemap.inner_join(mask_a, mask_b)`` -> [(pos, off_a, off_b)],
  ``sparsemap.compact``, ``sparsemap.mask_of``, ``conv.match_counts`` (MACs per output),
  ``conv.check_acc``, ``quant.output_to_sparsemap``; ``encode_*``/``encode_vector`` take
  ``bits=8, signed=True``.
* Overflow: only final sums are checked against ``acc_bits`` (a wrapping two's complement
  accumulator is exact whenever the final sum fits).
"""

from .sparsemap import (Chunk, SparseMap, check_chunk, check_int_array, decode_vector,
                        encode_activations, encode_filters, encode_vector, inner_join, popcount,
                        prefix_offsets)
from .nm import (SUPPORTED, check_nm, from_torch_2to4, meta_2to4_pack, nm_compress,
                 nm_decompress, to_torch_2to4)
from .conv import conv2d_dense, conv2d_sparse, conv_output_shape, fc, im2col, match_counts, relu
from .quant import output_to_sparsemap, requantize

__all__ = [
    "Chunk", "SparseMap", "check_chunk", "check_int_array", "decode_vector", "encode_activations",
    "encode_filters", "encode_vector", "inner_join", "popcount", "prefix_offsets",
    "SUPPORTED", "check_nm", "from_torch_2to4", "meta_2to4_pack", "nm_compress", "nm_decompress",
    "to_torch_2to4",
    "conv2d_dense", "conv2d_sparse", "conv_output_shape", "fc", "im2col", "match_counts", "relu",
    "output_to_sparsemap", "requantize",
]
