"""Typed records, like dataclasses but cheap to define.

``dataclasses`` generates and ``exec``s several functions for every class:
about 0.3 ms each, and pytrace defines a hundred record classes on its
start-up path, which alone would take half the time budget of
``pytrace -e 'BEGIN { exit(); }'``. ``@record`` gives the part we use —
annotated fields with defaults or factories, ``field(compare=False)``,
frozen instances, value equality and hashing, ``repr``, ``replace`` and
``fields`` — with shared generic methods and no code generation.
"""
from __future__ import annotations

_MISSING = object()


class Field:
    __slots__ = ("name", "default", "default_factory", "compare", "repr")

    def __init__(self, default=_MISSING, default_factory=_MISSING, compare=True, repr=True):
        self.name = ""
        self.default = default
        self.default_factory = default_factory
        self.compare = compare
        self.repr = repr

    def __repr__(self) -> str:
        return f"Field({self.name!r})"


def field(*, default=_MISSING, default_factory=_MISSING, compare: bool = True,
          repr: bool = True) -> Field:
    return Field(default, default_factory, compare, repr)


class FrozenInstanceError(AttributeError):
    pass


def _init(self, *args, **kwargs) -> None:
    fields = self.__record_fields__
    if len(args) > len(fields):
        raise TypeError(f"{type(self).__name__}() takes {len(fields)} arguments, "
                        f"{len(args)} given")
    setter = object.__setattr__
    for f, value in zip(fields, args):
        setter(self, f.name, value)
    for f in fields[len(args):]:
        value = kwargs.pop(f.name, _MISSING)
        if value is _MISSING:
            if f.default is not _MISSING:
                value = f.default
            elif f.default_factory is not _MISSING:
                value = f.default_factory()
            else:
                raise TypeError(f"{type(self).__name__}() needs '{f.name}'")
        setter(self, f.name, value)
    if kwargs:
        raise TypeError(f"{type(self).__name__}() got unknown field(s) {', '.join(kwargs)}")
    post = getattr(self, "__post_init__", None)
    if post is not None:
        post()


def _key(self) -> tuple:
    return tuple(getattr(self, name) for name in self.__record_compare__)


def _eq(self, other):
    if other.__class__ is not self.__class__:
        return NotImplemented
    return _key(self) == _key(other)


def _hash(self) -> int:
    return hash((self.__class__.__name__,) + _key(self))


def _repr(self) -> str:
    parts = ", ".join(f"{f.name}={getattr(self, f.name)!r}"
                      for f in self.__record_fields__ if f.repr)
    return f"{type(self).__name__}({parts})"


def _frozen_setattr(self, name, value):
    raise FrozenInstanceError(f"cannot assign to field '{name}' of a frozen "
                              f"{type(self).__name__}")


def record(cls=None, *, frozen: bool = False, eq: bool = True):
    """Class decorator: annotated class attributes become fields, in order,
    after those of record base classes. ``eq=False`` keeps identity
    equality; ``frozen=True`` forbids assignment and makes instances hashable."""
    def wrap(cls):
        fields: list[Field] = []
        for base in reversed(cls.__mro__[1:]):
            for f in base.__dict__.get("__record_fields__", ()):
                fields = [x for x in fields if x.name != f.name] + [f]
        for name, annotation in cls.__dict__.get("__annotations__", {}).items():
            if isinstance(annotation, str) and annotation.startswith(("ClassVar", "typing.ClassVar")):
                continue
            value = cls.__dict__.get(name, _MISSING)
            if isinstance(value, Field):
                f = value
                if f.default is not _MISSING:
                    setattr(cls, name, f.default)
                else:
                    delattr(cls, name)
            else:
                f = Field(default=value)
            f.name = name
            fields = [x for x in fields if x.name != name] + [f]
        cls.__record_fields__ = tuple(fields)
        cls.__record_compare__ = tuple(f.name for f in fields if f.compare)
        cls.__init__ = _init
        if "__repr__" not in cls.__dict__:
            cls.__repr__ = _repr
        if eq:
            cls.__eq__ = _eq
            cls.__hash__ = _hash if frozen else None
        if frozen:
            cls.__setattr__ = _frozen_setattr
        return cls
    return wrap if cls is None else wrap(cls)


def fields(obj) -> tuple[Field, ...]:
    return obj.__record_fields__


def is_record(obj) -> bool:
    return hasattr(obj, "__record_fields__")


def replace(obj, **changes):
    """A copy of ``obj`` with some fields changed."""
    values = {f.name: getattr(obj, f.name) for f in obj.__record_fields__}
    values.update(changes)
    return type(obj)(**values)


def asdict(obj) -> dict:
    return {f.name: getattr(obj, f.name) for f in obj.__record_fields__}
