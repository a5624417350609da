"""One Verilog module for many identical instances: hierarchical, replicated blocks.

Amaranth writes one Verilog module per submodule *instance*, so a cluster of 32 identical compute
units becomes 32 copies of the same module: 32 times the Python elaboration, and 32 times the Yosys
work (Yosys cannot tell that the copies are the same). For synthesis of large replicated arrays a
design can instead instantiate a :class:`SharedModule`: its component is converted **once**, under
the module name given, and every :meth:`SharedModule.instance` is a stand-in with the same signature
that elaborates to an ``Instance`` of that module. Yosys then synthesises the block once and
``stat -top`` counts it once per instance, as for any hand-written hierarchical netlist.

The definition is written into the same Verilog file as the design that uses it by
:func:`hw.emit.convert` (used by ``emit_verilog``, hence by ``make verilog``, the simulator and synthesis), which collects, while
converting, every shared module that a stand-in elaborated. Verilator simulates the result like any
Verilog (tests/test_harness.py runs three shared stream registers in series). Amaranth's own
simulator cannot: a stand-in is a black box to it, so Amaranth-simulated tests build the design
with ordinary submodules.
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
def collecting(top=None):
    """Collect the shared modules that stand-ins elaborate inside this block, while converting
    the design ``top``: a list of ``(SharedModule, module name)``, first use first, each once.
    Names starting with ``.`` are resolved against ``top``. Nested blocks collect separately."""
    outer = getattr(_state, "found", None), getattr(_state, "top", None)
    _state.found, _state.top = found, _ = [], top
    try:
        yield found
    finally:
        _state.found, _state.top = outer


class SharedModule:
    """A component converted once as Verilog module ``name`` and instantiated many times.

    Parameters
    ----------
    name : str
        Verilog module name of the definition. A name starting with ``.`` (e.g. ``".cu"``) is
        relative to the top being converted (``<top>.cu``), which is what reports expect: they
        read Amaranth's ``<top>.<sub>`` hierarchy names.
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
        self._verilog = {}
        self._ports = {}

    @property
    def component(self):
        """The block (built on first use), which the definition is converted from."""
        if self._component is None:
            self._component = self._factory()
            if not isinstance(self._component, wiring.Component):
                raise TypeError(f"factory of shared module {self.name!r} must return a "
                                f"wiring.Component, not {self._component!r}")
        return self._component

    def resolve(self, top=None):
        """The module name: :attr:`name`, or ``<top><name>`` for a relative name."""
        if not self.name.startswith("."):
            return self.name
        top = top if top is not None else getattr(_state, "top", None)
        if not top:
            raise RuntimeError(f"shared module {self.name!r} has a relative name: convert the "
                               f"design with hw.emit.convert (it names the top)")
        return top + self.name

    def verilog(self, name=None):
        """The definition's Verilog text as module ``name`` (default :meth:`resolve`), converted on
        first use, then cached."""
        name = name or self.resolve()
        if name not in self._verilog:
            text = verilog.convert(self.component, name=name, emit_src=False,
                                   strip_internal_attrs=True)
            escaped = re.escape("\\" + name + " " if "." in name else name)
            head = re.search(r"^module " + escaped + r"\s*\(([^)]*)\);", text, re.MULTILINE)
            if head is None:
                raise RuntimeError(f"no module {name!r} in the converted shared module")
            self._ports[name] = {p.strip() for p in head.group(1).split(",") if p.strip()}
            self._verilog[name] = text
        return self._verilog[name]

    def ports(self, name=None):
        """Port names of the definition."""
        name = name or self.resolve()
        self.verilog(name)
        return self._ports[name]

    def instance(self):
        """A new stand-in: same signature as :attr:`component`, elaborates to an ``Instance``."""
        return _StandIn(self)


class _StandIn(wiring.Component):
    def __init__(self, shared):
        self._shared = shared
        super().__init__(shared.component.signature)

    def elaborate(self, platform):
        name = self._shared.resolve()
        found = getattr(_state, "found", None)
        if found is not None and (self._shared, name) not in found:
            found.append((self._shared, name))
        have = self._shared.ports(name)
        ports = [("i", n, v) for n, v in (("clk", ClockSignal()), ("rst", ResetSignal()))
                 if n in have]
        for path, member, value in self.signature.flatten(self):
            port = port_name(path)
            if port not in have:
                raise RuntimeError(f"shared module {name!r} has no port {port!r} "
                                   f"(its ports: {sorted(have)})")
            ports.append(("i" if member.flow == In else "o", port, value))
        return Instance(name, *ports)
