"""Checks of maps (a part of ``semantics.Checker``)."""
from __future__ import annotations

from ..base.diagnostics import Loc
from . import ast as A
from .types import INT64, Agg, Struct, StructRef, Tuple, Type, Void
from .check_common import (Unknown, UNKNOWN, describe, storable, _merge, MapInfo, Group,
                           _key_words, _value_words)


class MapChecks:
    """Checks of maps: one key and value type per map, every map assigned."""

    def _check_maps_defined(self, groups: list[Group]) -> None:
        for info in self.maps.values():
            if not info.assigned and info.first_loc is not None:
                self.error(f"map {info.name} is used but never assigned a value",
                           info.first_loc,
                           f"assign it first, e.g. {info.name} = count() or {info.name}[key] = value")

    # -- maps ------------------------------------------------------------
    def map_info(self, ref: A.MapRef) -> MapInfo:
        """What is known of the map ``ref`` names (recording the use)."""
        info = self.maps.get(ref.name)
        if info is None:
            info = self.maps[ref.name] = MapInfo(ref.name)
        if info.first_loc is None:
            info.first_loc = ref.loc
        return info

    def map_keys(self, info: MapInfo, ref: A.MapRef) -> Type | None:
        """Check the keys a map is used with; returns the key type."""
        if not ref.keys:
            key = None
        else:
            types = [self.expr(k) for k in ref.keys]
            for k, t in zip(ref.keys, types):
                if isinstance(t, (Void, Struct, StructRef)) or (isinstance(t, Agg) and
                                                             not t.is_integer):
                    self.error(f"{describe(t)} cannot be a map key", k.loc)
                    return None
            types = [storable(t) for t in types]
            key = types[0] if len(types) == 1 else Tuple(tuple(types))
        keyed = bool(ref.keys)
        if info.keyed is None:
            info.keyed, info.key, info.key_loc = keyed, key, ref.loc
            return key
        if info.keyed != keyed:
            have = "without keys" if not info.keyed else "with keys"
            self.error(f"{info.name} is used {have} elsewhere; every use of a map needs the "
                       f"same keys", ref.loc,
                       notes=self.note(f"{info.name} first used here", info.key_loc))
            return info.key
        if keyed:
            merged = _merge(info.key, key)
            if merged is None:
                self.error(f"{info.name} is keyed by {_key_words(info.key)} elsewhere, not "
                           f"{_key_words(key)}", ref.loc,
                           notes=self.note(f"{info.name} first keyed here", info.key_loc))
                return info.key
            info.key = merged
        return info.key

    def map_value(self, info: MapInfo, t: Type, loc: Loc) -> None:
        """Record that the map is assigned a value of type ``t`` (checking it
        against the values it had)."""
        info.assigned = True
        if info.value is None or isinstance(info.value, Unknown):
            info.value, info.value_loc = t, loc
            return
        old = info.value
        if isinstance(old, Agg) or isinstance(t, Agg):
            if old != t:
                self.error(f"{info.name} already holds {_value_words(old, True)}; it cannot "
                           f"also hold {_value_words(t, True)}", loc,
                           notes=self.note(f"{info.name} first assigned here", info.value_loc))
            return
        merged = _merge(old, t)
        if merged is None:
            self.error(f"{info.name} already holds {_value_words(old)}; it cannot also hold "
                       f"{_value_words(t)}", loc,
                       "use another map for the other value",
                       notes=self.note(f"{info.name} first assigned here", info.value_loc))
            return
        info.value = merged

    def map_read(self, ref: A.MapRef) -> Type:
        info = self.map_info(ref)
        self.map_keys(info, ref)
        t = info.value
        if t is None:
            return UNKNOWN
        if isinstance(t, Agg):
            if not t.is_integer:
                self.error(f"the value of histogram {ref.name} cannot be read in a probe",
                           ref.loc, f"print it with print({ref.name})")
                return INT64
            if not self.kernel_has_percpu_lookup():
                self.error(f"reading {t.kind.value}() map {ref.name} in a probe needs "
                           f"bpf_map_lookup_percpu_elem (Linux 5.19), which this kernel lacks",
                           ref.loc, "print the map instead, or keep a plain counter: "
                           f"{ref.name}++ instead of {ref.name} = count()")
            return t
        return t

    def kernel_has_percpu_lookup(self) -> bool:
        from .kernelinfo import Feature
        return self.kernel.has(Feature.PERCPU_LOOKUP)
