"""The live session's maps as the REPL sees them: listed by name, printed
now (``.print``), rendered for ``.watch``, cleared, and written or deleted
entry by entry from userspace (``.set``, ``.delete``)."""
from __future__ import annotations

from ..base.diagnostics import RuntimeFailure, UsageError
from ..lang.program import MapSpec


class LiveMaps:
    """The user maps of a ``loader.Loader``, printed by ``printer``."""

    def __init__(self, loader, map_reader, printer):
        self.loader = loader
        self.map_reader = map_reader
        self.printer = printer

    @property
    def user_maps(self) -> list[MapSpec]:
        return sorted(self.loader.script.user_maps, key=lambda m: m.name)

    def map_spec(self, name: str) -> MapSpec:
        for spec in self.loader.script.user_maps:
            if spec.name == name:
                return spec
        known = ", ".join(m.name for m in self.user_maps) or "none yet"
        raise UsageError(f"there is no map {name} (maps: {known})")

    def print_maps(self, names: list[str] | None = None) -> int:
        """Print maps as they are now (all, or ``names``), in the CLI's
        format; returns how many had something to print."""
        specs = [self.map_spec(n) for n in names] if names else self.user_maps
        shown = 0
        for spec in specs:
            dump = self.map_reader.dump(spec.name)
            if len(dump) or (names and dump.is_scalar and not dump.is_hist):
                self.printer.map(dump, fill_empty_scalar=True)
                shown += 1
        return shown

    def render_map(self, name: str) -> str:
        """A map as text, as ``.print`` shows it ("" when empty)."""
        import io

        from ..render.output import TextPrinter
        self.map_spec(name)
        buf = io.StringIO()
        TextPrinter(buf, buf, self.printer.resolvers).map(self.map_reader.dump(name),
                                                           fill_empty_scalar=True)
        return buf.getvalue()

    def clear_maps(self, names: list[str] | None = None) -> list[str]:
        specs = [self.map_spec(n) for n in names] if names else self.user_maps
        for spec in specs:
            self.loader.maps[spec.name].clear()
        return [s.name for s in specs]

    def write_map(self, name: str, key, value) -> None:
        """``@name[key] = value`` from userspace (key None for a scalar map)."""
        from ..render.encode import encode_key, encode_value
        spec = self.map_spec(name)
        m = self.loader.maps[name]
        raw_key = encode_key(spec, key)
        raw = encode_value(spec, value, m.ncpus)
        from ..kernel.bpf import BpfError
        try:
            m.update(raw_key, raw)
        except BpfError as err:
            raise RuntimeFailure(f"cannot write {name}: {err}") from None

    def delete_key(self, name: str, key) -> bool:
        from ..render.encode import encode_key
        spec = self.map_spec(name)
        return self.loader.maps[name].delete(encode_key(spec, key))

    def write_entry(self, text: str) -> None:
        """``@m[k] = v`` as a person types it (numbers, strings, tuples)."""
        from ..render.encode import parse_assignment
        self.write_map(*parse_assignment(text))

    def delete_entry(self, text: str) -> bool:
        """``@m[k]`` as typed; False when there was no such key."""
        from ..render.encode import parse_map_key
        return self.delete_key(*parse_map_key(text))
