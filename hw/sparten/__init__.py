"""SparTen-style two-sided sparse engine (DESIGN.md section 2).

Blocks, inner to outer
----------------------
``hw.common.innerjoin.InnerJoin``
    Two chunk masks in, matches out (position and the two prefix offsets), 1/2/4 per cycle.
:mod:`.cu` (``ComputeUnit``)
    Inner join + operand select + multipliers + accumulator; one dot product per output position.
:mod:`.cluster` (``Cluster``)
    ``n_units`` units with resident filter banks behind one broadcast chunk stream; the next chunk
    is taken when every unit can take it (the barrier). Optional input FIFO.
:mod:`.output` (``OutputPath``)
    Requantise + ReLU + SparseMap encoder (written by another helper; instantiated by the layer).
:mod:`.sequencer` (``Sequencer``)
    The convolution sequencer (rounds x positions x taps x channel chunks, any stride/padding)
    and its activation-memory stage, feeding the cluster's broadcast stream.
:mod:`.readout` (``Readout``, ``BankSelect``)
    Output banks -> results in channel order; the channel table and the bank select (``unperm``)
    undo GB-H's filter order.
:mod:`.layer` (``SparTenLayer``)
    Activation memory, output banks, channel table and load port around the submodules
    ``cluster``, ``sequencer``, ``readout`` and ``outpath``; phases and cycle counter.
:mod:`.layer_layouts`
    The layer's descriptor, load-beat and channel-table layouts and sizes.
:mod:`.memmap`
    Python side: descriptor and memory images of a layer, packed from those layouts through
    :mod:`hw.common.pack` (used by testbenches and sim/run_sparten).

Choices where the paper is silent *(ours)*
------------------------------------------
* A zero-padding tap is broadcast as an all-zero chunk (1 cycle per chunk) rather than skipped:
  the sequencer stays a plain counter nest and the cost is visible in the cycle model.
* A chunk with no match costs one cycle (the join still emits one "no match" beat), so the framing
  always reaches the accumulator.
* GB-S/GB-H slot orders are loaded per layer: each unit's filter bank holds the filters of its
  slots for every round, and the readout reads channel ``k`` from the bank and address its slot
  wrote (a channel table) -- the un-permute of GB-H, at no cost in compute cycles.
* Stored chunks keep ``chunk`` value slots (packed non-zeros first, zeros after) so one memory word
  is one chunk; the format in the datapath stays compressed (mask + packed values).

Cycle contract
--------------
``cycles = PIPELINE + sum over broadcast chunks of max_u max(1, ceil(matches[u] / M))``, counted by
hardware from ``start`` to the end of the compute phase and predicted exactly by
:func:`golden.sparten_model.layer_cycles` (``PIPELINE`` = :attr:`SparTenLayer.latency`, 7 cycles,
+1 with the input FIFO, passed to the model as ``pipeline``).

With ``unit_fifo_depth = Q > 0`` *(ours)* each unit keeps up to Q chunks waiting in front of its
join, and the barrier becomes a window: chunk ``t`` is broadcast once every unit has started chunk
``t - Q``. The model then runs the exact recurrence over chunks. On a conv4_2-sized layer with
uniform random sparsity (d_w 0.27, d_a 0.45, chunk 128, 32 units) Q = 1 lifts the speed-up over
dense from 72% to 96% of the ideal 1/(d_w*d_a); Q = 2 to 99%.
"""
