"""PostgreSQL types → Python annotations, and the conversions the generated code applies."""

from __future__ import annotations

from dataclasses import dataclass, field

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
    array: PyType | None = None  # element type for arrays
    decode: str | None = None  # callable name applied to values read
    encode: str | None = None  # callable name applied to values written

    @property
    def needs_load(self) -> bool:
        return bool(self.enum or self.decode or (self.array and self.array.needs_load))

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


class TypeMapper:
    """Maps type oids to PyTypes, honouring type overrides."""

    def __init__(self, catalog: Catalog, type_overrides: dict[str, Override]) -> None:
        self.catalog = catalog
        self.type_overrides = type_overrides
        self.used_enums: set[int] = set()

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

    def map(self, oid: int) -> PyType:
        typ = self.pg_type(oid)
        override = self.type_overrides.get(typ.name) or self.type_overrides.get(
            f"{typ.schema}.{typ.name}"
        )
        if typ.elem:
            if override is not None:
                return apply_override(PyType("list[Any]"), override)
            inner = self.map(typ.elem)
            return PyType(
                f"list[{inner.annotation}]",
                inner.imports,
                json=False,
                array=inner,
            )
        if typ.kind == "d" and typ.base:
            base = self.map(typ.base)
            return apply_override(base, override) if override else base
        if typ.kind == "e":
            self.used_enums.add(oid)
            cls = class_name(typ.name, typ.schema)
            base = PyType(cls, frozenset({(".models", cls)}), enum=cls)
            return apply_override(base, override) if override else base
        annotation, module = _BASE.get(typ.name, ("str", ""))
        imports: frozenset[tuple[str, str]] = frozenset()
        if module:
            names = [n.strip() for n in annotation.split("|")]
            if module == "typing":
                names = ["Any"]
            imports = frozenset((module, n) for n in names)
        base = PyType(annotation, imports, json=typ.name in ("json", "jsonb"))
        return apply_override(base, override) if override else base
