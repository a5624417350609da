"""EUREKA-style tensor core: one R x L output-stationary array for dense, N:M and unstructured (SUDS)
weights, plus its dense and Ampere-like 2:4 baselines from the same generator.

``config.EurekaConfig`` (parameters), ``core.EurekaCore`` (the component and its stream layouts),
``beats`` (stream payloads from a golden schedule), ``tops`` (what ``sparse-hw verilog`` emits).
The offline packer, SUDS scheduler and cycle model are in ``golden/eureka.py``.
"""
