"""SAIF files of native runs: the commands a ``trace="saif"`` model adds, and the reader.

:mod:`sim.native` documents the commands; :mod:`synth.power` reads the toggle counts back with
:func:`read_saif`.
"""

import re

__all__ = ["SAIF_COMMANDS", "read_saif"]

SAIF_COMMANDS = ("saif", "feed_bg", "seq", "wave", "watch", "until_fed", "until_beats")

_NET = re.compile(r"\(\s*(\S+)\s+\(T0\s+(\d+)\)\s*\(T1\s+(\d+)\)\s*(?:\(T[ZXB]\s+\d+\)\s*)*"
                  r"\(TC\s+(\d+)\)")
_DUR = re.compile(r"\(DURATION\s+(\d+)\)")


def read_saif(path, scopes=False):
    """``({net: (T0, T1, TC)}, duration)`` of a SAIF file written by Verilator.

    Net names are unescaped (``a\\[3\\]`` -> ``a[3]``). Nets of the top module (and of
    Verilator's ``TOP`` wrapper, which repeats its ports) keep their names; with ``scopes`` the
    nets of nested instances are included as ``inst/sub/name`` (RTL runs), otherwise they are
    skipped."""
    nets, stack, duration = {}, [], None
    with open(path, errors="replace") as f:
        for line in f:
            s = line.strip()
            if s.startswith("(INSTANCE"):
                stack.append(("inst", s.split()[1].replace("\\", "")))
            elif s.startswith("(NET"):
                stack.append(("net", None))
            elif s == ")":
                if stack:
                    stack.pop()
            elif s.startswith("(DURATION"):
                duration = int(_DUR.search(s).group(1))
            else:
                m = _NET.match(s)
                if m:
                    # TOP (Verilator's wrapper) and the design's own instance are both the root
                    path_ = [n for k, n in stack if k == "inst"][2:]
                    if path_ and not scopes:
                        continue
                    name = m.group(1).replace("\\", "")
                    key = "/".join([*path_, name])
                    nets[key] = (int(m.group(2)), int(m.group(3)), int(m.group(4)))
    return nets, duration
