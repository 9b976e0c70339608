"""Which types a skops file may contain before modelops will load it.

skops never runs pickle; it rebuilds objects from a schema, and
``skops.io.get_untrusted_types`` lists the types in a file that skops does not trust by
default. modelops reviews that list against this allow-list: types from scikit-learn,
numpy and scipy.sparse (what fitted estimators hold), minus modules that exist for
testing, building or file access, plus the few builtins skops reports. Anything else, such
as a user's own class, is refused: loading it would import and instantiate arbitrary code.
"""

from __future__ import annotations

from collections.abc import Iterable

ALLOWED_PREFIXES: tuple[str, ...] = ("sklearn.", "numpy.", "scipy.sparse.")
# Inside the allowed packages, modules with no business in a fitted model.
DENIED_PREFIXES: tuple[str, ...] = (
    "sklearn.utils._testing.",
    "sklearn.externals.",
    "sklearn.datasets.",
    "numpy.testing.",
    "numpy.f2py.",
    "numpy.distutils.",
    "numpy.ctypeslib.",
    "numpy.lib.npyio.",
    "numpy.lib._npyio_impl.",
    "numpy.lib.format.",
    "numpy.load",
    "numpy.save",
    "numpy.fromfile",
    "numpy.memmap",
)
ALLOWED_BUILTINS: frozenset[str] = frozenset(
    {
        "builtins.slice",
        "builtins.tuple",
        "builtins.list",
        "builtins.dict",
        "builtins.set",
        "builtins.frozenset",
        "builtins.int",
        "builtins.float",
        "builtins.complex",
        "builtins.bool",
        "builtins.str",
        "builtins.bytes",
        "builtins.bytearray",
        "builtins.NoneType",
        "collections.OrderedDict",
        "collections.defaultdict",
    }
)


def is_allowed_type(name: str) -> bool:
    if name in ALLOWED_BUILTINS:
        return True
    if any(name.startswith(prefix) for prefix in DENIED_PREFIXES):
        return False
    return any(name.startswith(prefix) for prefix in ALLOWED_PREFIXES)


def refused_types(names: Iterable[str]) -> list[str]:
    """The names, sorted, that the allow-list does not accept."""
    return sorted({n for n in names if not is_allowed_type(n)})
