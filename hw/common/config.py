"""Shared behaviour of every engine config: validation helpers and the JSON sidecar.

Every engine has one frozen dataclass config (see ``hw/sparten/config.py`` and
``hw/eureka/config.py``). Amaranth's Verilog carries no parameters, so the config writes itself next
to the Verilog as ``<top>.json``; testbenches and reports read that file and rebuild the config with
:meth:`ConfigBase.from_dict`, never re-deriving numbers by hand.
"""

import dataclasses
import hashlib
import json

__all__ = ["ConfigBase", "check_int", "check_pow2", "check_choice", "ConfigError", "resolve_config"]


class ConfigError(ValueError):
    """A generator parameter is out of its accepted range."""


def check_int(name, value, lo=None, hi=None):
    """Raise :class:`ConfigError` unless ``value`` is an int in ``[lo, hi]`` (bounds optional)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be an integer, not {value!r}")
    if lo is not None and value < lo or hi is not None and value > hi:
        rng = f"{lo if lo is not None else '-inf'}..{hi if hi is not None else 'inf'}"
        raise ConfigError(f"{name} must be in {rng}, not {value!r}")


def check_pow2(name, value, lo, hi):
    """Raise :class:`ConfigError` unless ``value`` is a power of two in ``[lo, hi]``."""
    check_int(name, value, lo, hi)
    if value & (value - 1):
        raise ConfigError(f"{name} must be a power of two in {lo}..{hi}, not {value!r}")


def check_choice(name, value, choices):
    """Raise :class:`ConfigError` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ConfigError(f"{name} must be one of {sorted(choices)!r}, not {value!r}")


class ConfigBase:
    """Mixin for frozen dataclass configs: dict/JSON round trip and a stable hash."""

    def to_dict(self):
        d = {"kind": type(self).__name__}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            d[f.name] = list(v) if isinstance(v, tuple) else v
        return d

    @classmethod
    def from_dict(cls, d):
        d = dict(d)
        kind = d.pop("kind", cls.__name__)
        if kind != cls.__name__:
            raise ConfigError(f"sidecar describes a {kind}, not a {cls.__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ConfigError(f"unknown {cls.__name__} field(s): {sorted(unknown)!r}")
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        return cls(**kwargs)

    @classmethod
    def from_json(cls, path):
        with open(path) as f:
            d = json.load(f)
        return cls.from_dict(d.get("config", d))

    def digest(self):
        """Short stable hash of the config, used to name build folders."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def resolve_config(cls, presets, spec):
    """The config named by ``spec``: a preset name (a key of ``presets``), a path to a JSON file
    (a sidecar ``<top>.json`` or a plain field dict), or an instance of ``cls`` (returned as is).

    Raises :class:`ConfigError` naming the spec and the accepted presets.
    """
    import os
    if isinstance(spec, cls):
        return spec
    if not isinstance(spec, (str, os.PathLike)):
        raise ConfigError(f"config must be one of {sorted(presets)!r} or a JSON file, not {spec!r}")
    if str(spec) in presets:
        return presets[str(spec)]
    if not str(spec).endswith(".json") and not os.path.exists(spec):
        raise ConfigError(f"config must be one of {sorted(presets)!r} or a JSON file, "
                          f"not {str(spec)!r}")
    try:
        return cls.from_json(spec)
    except FileNotFoundError:
        raise ConfigError(f"config file {str(spec)!r} does not exist") from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"config file {str(spec)!r} is not JSON: {e}") from None
