"""PostgreSQL types → Python annotations, and the conversions the generated code applies."""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from psycopg import pq

from codegen.catalog import Catalog, PgType
from codegen.errors import CodegenError
from codegen.names import class_name

# (annotation, import module or "" for builtins)
_BASE: dict[str, tuple[str, str]] = {
    "bool": ("bool", ""),
    "int2": ("int", ""),
    "int4": ("int", ""),
    "int8": ("int", ""),
    "oid": ("int", ""),
    "float4": ("float", ""),
    "float8": ("float", ""),
    "numeric": ("Decimal", "decimal"),
    "money": ("str", ""),
    "text": ("str", ""),
    "varchar": ("str", ""),
    "bpchar": ("str", ""),
    "char": ("str", ""),
    "name": ("str", ""),
    "citext": ("str", ""),
    "uuid": ("UUID", "uuid"),
    "json": ("JSON", ".models"),
    "jsonb": ("JSON", ".models"),
    "bytea": ("bytes", ""),
    "date": ("date", "datetime"),
    "time": ("time", "datetime"),
    "timetz": ("time", "datetime"),
    "timestamp": ("datetime", "datetime"),
    "timestamptz": ("datetime", "datetime"),
    "interval": ("timedelta", "datetime"),
    "inet": ("IPv4Interface | IPv6Interface", "ipaddress"),
    "cidr": ("IPv4Network | IPv6Network", "ipaddress"),
    "void": ("None", ""),
    "record": ("tuple[Any, ...]", "typing"),
}


@dataclass(frozen=True)
class Override:
    """A user-chosen Python type for a column or a PostgreSQL type."""

    annotation: str
    imports: tuple[str, ...] = ()  # "module:Name" entries
    decode: str | None = None  # "module:callable" applied to values read
    encode: str | None = None  # "module:callable" applied to values written
    nullable: bool | None = None  # column overrides only: force nullability


@dataclass(frozen=True)
class PyType:
    """How one PostgreSQL type appears in generated code."""

    annotation: str
    imports: frozenset[tuple[str, str]] = field(default_factory=frozenset)
    enum: str | None = None  # StrEnum class that values read are converted into
    json: bool = False  # values written are wrapped in Jsonb
    json_oid: int = 0  # values read are json (114) or jsonb (3802), decoded by psycopg's loader
    array: PyType | None = None  # element type for arrays
    decode: str | None = None  # callable name applied to values read
    encode: str | None = None  # callable name applied to values written
    spec: str | None = None  # decode_value spec for values psycopg leaves as text
    spec_imports: frozenset[tuple[str, str]] = field(default_factory=frozenset)  # the spec's names

    @property
    def needs_load(self) -> bool:
        return bool(self.enum or self.decode or self.spec or (self.array and self.array.needs_load))

    @property
    def needs_dump(self) -> bool:
        return bool(self.json or self.encode or self.array is not None)


def _import_pair(spec: str) -> tuple[str, str]:
    module, _, name = spec.partition(":")
    if not module or not name:
        raise CodegenError(f"bad import {spec!r}: expected 'module:Name'")
    return module, name


def apply_override(base: PyType, override: Override) -> PyType:
    imports = {_import_pair(s) for s in override.imports}
    decode = encode = None
    if override.decode:
        imports.add(_import_pair(override.decode))
        decode = _import_pair(override.decode)[1]
    if override.encode:
        imports.add(_import_pair(override.encode))
        encode = _import_pair(override.encode)[1]
    # Without an encode function a JSON column is still written as JSON.
    return PyType(
        override.annotation,
        frozenset(imports) | _typing_imports(override.annotation),
        json=base.json and encode is None,
        json_oid=base.json_oid,
        decode=decode,
        encode=encode,
    )


def _typing_imports(annotation: str) -> frozenset[tuple[str, str]]:
    found = set()
    for name, module in (("UUID", "uuid"), ("Any", "typing"), ("Decimal", "decimal")):
        if name in annotation:
            found.add((module, name))
    if "datetime" in annotation:
        found.add(("datetime", "datetime"))
    return frozenset(found)


# Types the server returns as text that psycopg does not decode by itself (a user enum or
# composite, arrays of them, arrays of domains, void) are decoded by the generated
# ``decode_value(spec, value)`` (in models.py) following a spec built here: ("same",) keeps the
# text, ("oid", n) uses psycopg's loader for a built-in type, ("enum", Cls), ("array", spec),
# ("record", Cls, (spec, ...)), ("call", fn) an override's decode function, ("void",) None.
_FIRST_USER_OID = 16384  # FirstNormalObjectId: every oid below is built into PostgreSQL
# Extension types with a known Python mapping (psycopg returns their text).
_EXTENSION_TEXT = frozenset({"citext", "ltree", "lquery", "ltxtquery", "hstore"})
_RANGES: dict[str, str] = {
    "int4range": "Range[int]",
    "int8range": "Range[int]",
    "numrange": "Range[Decimal]",
    "daterange": "Range[date]",
    "tsrange": "Range[datetime]",
    "tstzrange": "Range[datetime]",
    "int4multirange": "Multirange[int]",
    "int8multirange": "Multirange[int]",
    "nummultirange": "Multirange[Decimal]",
    "datemultirange": "Multirange[date]",
    "tsmultirange": "Multirange[datetime]",
    "tstzmultirange": "Multirange[datetime]",
}
_DECODE = (".models", "decode_value")
_JSON_OIDS = frozenset({114, 3802})  # json, jsonb


def _psycopg_loads(oid: int) -> bool:
    """Does psycopg turn this built-in type's text into a Python value by itself?"""
    return psycopg.adapters.get_loader(oid, pq.Format.TEXT) is not None


class TypeMapper:
    """Maps type oids to PyTypes, honouring type overrides."""

    def __init__(self, catalog: Catalog, type_overrides: dict[str, Override]) -> None:
        self.catalog = catalog
        self.type_overrides = type_overrides
        self.used_enums: set[int] = set()
        self.row_classes: dict[int, str] = {}  # composite/row type oid -> model class name
        self.row_fields: dict[int, list[int]] = {}  # composite/row type oid -> field type oids
        self._mapped: dict[int, PyType] = {}

    def pg_type(self, oid: int) -> PgType:
        typ = self.catalog.types.get(oid)
        if typ is None:
            raise CodegenError(f"unknown type oid {oid}")
        return typ

    def type_name(self, oid: int) -> str:
        typ = self.pg_type(oid)
        if typ.elem:
            return self.type_name(typ.elem) + "[]"
        return typ.name

    def _override(self, typ: PgType) -> Override | None:
        return self.type_overrides.get(typ.name) or self.type_overrides.get(
            f"{typ.schema}.{typ.name}"
        )

    def map(self, oid: int) -> PyType:
        """The PyType of a type oid (memoized: types are immutable, the catalog fixed)."""
        found = self._mapped.get(oid)
        if found is None:
            found = self._mapped[oid] = self._map(oid)
        if found.enum:
            self.used_enums.add(oid)
        return found

    def _map(self, oid: int) -> PyType:
        typ = self.pg_type(oid)
        override = self._override(typ)
        if typ.elem:
            if override is not None:
                return apply_override(PyType("list[Any]"), override)
            inner = self.map(typ.elem)
            spec = None
            if inner.needs_load or oid >= _FIRST_USER_OID or not _psycopg_loads(oid):
                spec = f'("array", {self.spec(typ.elem)})'
            return PyType(
                f"list[{inner.annotation}]",
                inner.imports,
                json=False,
                array=inner,
                spec=spec,
                spec_imports=self._spec_imports(typ.elem) if spec else frozenset(),
            )
        if typ.kind == "d" and typ.base:
            base = self.map(typ.base)
            return apply_override(base, override) if override else base
        if typ.kind == "e":
            self.used_enums.add(oid)
            cls = class_name(typ.name, typ.schema)
            base = PyType(cls, frozenset({(".models", cls)}), enum=cls)
            return apply_override(base, override) if override else base
        if override is not None:
            return apply_override(PyType("str"), override)
        if typ.kind == "c" and oid in self.row_classes:
            cls = self.row_classes[oid]
            return PyType(
                cls,
                frozenset({(".models", cls), ("dataclasses", "astuple")}),
                encode="astuple",
                spec=self.spec(oid),
                spec_imports=self._spec_imports(oid),
            )
        if typ.name == "void":
            return PyType("None", spec='("void",)', spec_imports=frozenset({_DECODE}))
        if typ.name in _RANGES:
            annotation = _RANGES[typ.name]
            module = "psycopg.types.multirange" if "Multi" in annotation else "psycopg.types.range"
            return PyType(
                annotation,
                frozenset({(module, annotation.split("[")[0])})
                | _typing_imports(annotation)
                | ({("datetime", "date")} if "date]" in annotation else set()),
            )
        if typ.name not in _BASE and typ.name not in _EXTENSION_TEXT and oid >= _FIRST_USER_OID:
            raise CodegenError(
                f"type {typ.schema}.{typ.name} (from an extension) has no Python type: map it "
                f"in pyproject.toml, e.g. [tool.codegen.overrides.types] "
                f'"{typ.name}" = {{ type = "str" }}'
            )
        annotation, module = _BASE.get(typ.name, ("str", ""))
        imports = frozenset[tuple[str, str]]()
        if module:
            names = [n.strip() for n in annotation.split("|")]
            if module == "typing":
                names = ["Any"]
            imports = frozenset((module, n) for n in names)
        return PyType(
            annotation,
            imports,
            json=typ.name in ("json", "jsonb"),
            json_oid=oid if oid in _JSON_OIDS else 0,
        )

    def spec(self, oid: int) -> str:
        """The decode spec (a Python expression) for a value of this type inside text."""
        typ = self.pg_type(oid)
        override = self._override(typ)
        if override is not None and not typ.elem:
            return f'("call", {override.decode.split(":")[1]})' if override.decode else '("same",)'
        if typ.elem:
            return f'("array", {self.spec(typ.elem)})'
        if typ.kind == "d" and typ.base:
            return self.spec(typ.base)
        if typ.kind == "e":
            return f'("enum", {class_name(typ.name, typ.schema)})'
        if typ.kind == "c" and oid in self.row_classes:
            fields = "".join(f"{self.spec(f)}, " for f in self.row_fields[oid])
            return f'("record", {self.row_classes[oid]}, ({fields}))'
        if typ.name == "void":
            return '("void",)'
        if oid < _FIRST_USER_OID and _psycopg_loads(oid) and self.map(oid).annotation != "str":
            return f'("oid", {oid})'
        return '("same",)'

    def _spec_imports(self, oid: int) -> frozenset[tuple[str, str]]:
        """The names a spec refers to: the decoder and every class in it."""
        found = {_DECODE}
        typ = self.pg_type(oid)
        override = self._override(typ)
        if override is not None and override.decode and not typ.elem:
            found.add(_import_pair(override.decode))
        elif typ.elem:
            found |= self._spec_imports(typ.elem)
        elif typ.kind == "d" and typ.base:
            found |= self._spec_imports(typ.base)
        elif typ.kind == "e":
            found.add((".models", class_name(typ.name, typ.schema)))
        elif typ.kind == "c" and oid in self.row_classes:
            found.add((".models", self.row_classes[oid]))
            for f in self.row_fields[oid]:
                found |= self._spec_imports(f)
        return frozenset(found)
