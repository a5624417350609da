"""One Verilog module for many identical instances: hierarchical, replicated blocks.

Amaranth writes one Verilog module per submodule *instance*, so a cluster of 32 identical compute
units becomes 32 copies of the same module: 32 times the Python elaboration, and 32 times the Yosys
work (Yosys cannot tell that the copies are the same). For synthesis of large replicated arrays a
design can instead instantiate a :class:`SharedModule`: its component is converted **once**, under
the module name given, and every :meth:`SharedModule.instance` is a stand-in with the same signature
that elaborates to an ``Instance`` of that module. Yosys then synthesises the block once and
``stat -top`` counts it once per instance, as for any hand-written hierarchical netlist.

The definition is written into the same Verilog file as the design that uses it by
:func:`sim.verilator.emit_verilog` (which collects, while converting, every shared module that an
instance elaborated). A stand-in is not simulatable by Amaranth's simulator (it is a black box to
Amaranth); tests simulate the same design built with ordinary submodules.
"""

import contextlib
import re
import threading

from amaranth.back import verilog
from amaranth.hdl import ClockSignal, Instance, ResetSignal
from amaranth.lib import wiring
from amaranth.lib.wiring import In

__all__ = ["SharedModule", "collecting", "port_name"]

_state = threading.local()


def port_name(path):
    """Verilog port name Amaranth gives a top-level port at signature ``path`` (``i__payload``)."""
    return "__".join(str(p) for p in path)


@contextlib.contextmanager
def collecting():
    """Collect the :class:`SharedModule` s that stand-ins elaborate inside this block (a list,
    first use first, each once). Nested blocks collect separately."""
    outer = getattr(_state, "found", None)
    _state.found = found = []
    try:
        yield found
    finally:
        _state.found = outer


class SharedModule:
    """A component converted once as Verilog module ``name`` and instantiated many times.

    Parameters
    ----------
    name : str
        Verilog module name of the definition. Use ``<top>.<block>`` so that reports, which read
        Amaranth's ``<top>.<sub>`` hierarchy names, place it under its top.
    factory : callable
        ``factory() -> wiring.Component``: the block. Called once for the definition; its signature
        is the port list of every instance.
    """

    def __init__(self, name, factory):
        if not isinstance(name, str) or not name or any(c.isspace() for c in name):
            raise ValueError(f"name must be a non-empty Verilog identifier, not {name!r}")
        self.name = name
        self._factory = factory
        self._component = None
        self._verilog = None
        self._ports = None

    @property
    def component(self):
        """The block (built on first use), which the definition is converted from."""
        if self._component is None:
            self._component = self._factory()
            if not isinstance(self._component, wiring.Component):
                raise TypeError(f"factory of shared module {self.name!r} must return a "
                                f"wiring.Component, not {self._component!r}")
        return self._component

    def verilog(self):
        """The definition's Verilog text (converted on first use, then cached)."""
        if self._verilog is None:
            text = verilog.convert(self.component, name=self.name, emit_src=False,
                                   strip_internal_attrs=True)
            escaped = re.escape("\\" + self.name + " " if "." in self.name else self.name)
            head = re.search(r"^module " + escaped + r"\s*\(([^)]*)\);", text, re.MULTILINE)
            if head is None:
                raise RuntimeError(f"no module {self.name!r} in the converted shared module")
            self._ports = {p.strip() for p in head.group(1).split(",") if p.strip()}
            self._verilog = text
        return self._verilog

    def ports(self):
        """Port names of the definition."""
        self.verilog()
        return self._ports

    def instance(self):
        """A new stand-in: same signature as :attr:`component`, elaborates to an ``Instance``."""
        return _Stand_in(self)


class _Stand_in(wiring.Component):
    def __init__(self, shared):
        self._shared = shared
        super().__init__(shared.component.signature)

    def elaborate(self, platform):
        found = getattr(_state, "found", None)
        if found is not None and all(s is not self._shared for s in found):
            found.append(self._shared)
        have = self._shared.ports()
        ports = [("i", n, v) for n, v in (("clk", ClockSignal()), ("rst", ResetSignal()))
                 if n in have]
        for path, member, value in self.signature.flatten(self):
            name = port_name(path)
            if name not in have:
                raise RuntimeError(f"shared module {self._shared.name!r} has no port {name!r} "
                                   f"(its ports: {sorted(have)})")
            ports.append(("i" if member.flow == In else "o", name, value))
        return Instance(self._shared.name, *ports)
