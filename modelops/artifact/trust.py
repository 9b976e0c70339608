"""Which types a skops file may contain before modelops will load it.

skops never runs pickle; it rebuilds objects from a schema, and
``skops.io.get_untrusted_types`` lists the types in a file that skops does not trust by
default. modelops reviews that list against this allow-list: types from scikit-learn,
numpy and scipy.sparse (what fitted estimators hold), minus modules that exist for
testing, building or file access, plus the few builtins skops reports. Anything else, such
as a user's own class, is refused: loading it would import and instantiate arbitrary code.

A name is not enough on its own: skops builds ``module.attr`` by importing ``module`` and
taking ``attr`` from it, so ``numpy.lib._datasource._open`` (which is ``io.open``) or
``numpy._core.multiarray.fromfile`` (which is ``numpy.fromfile``) pass a check of names
alone. So every name is also resolved the way skops resolves it, and what it resolves to
must carry an allowed name of its own (``__module__`` and ``__qualname__``) and not be a
module.
"""

from __future__ import annotations

import importlib
import types
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
    """The names, sorted, that the allow-list does not accept: by name, or because the name
    leads to something whose own name it does not accept."""
    return sorted({n for n in names if not (is_allowed_type(n) and resolves_to_allowed(n))})


def resolves_to_allowed(name: str) -> bool:
    """Whether every object ``name`` can denote, split into a module and attributes at any
    dot (a file names them apart; skops reports them joined), is allowed under its own name.
    Only called for names that passed is_allowed_type, so only allowed modules are imported."""
    if name in ALLOWED_BUILTINS:
        return True  # exact builtins; `builtins.NoneType` is not even an attribute of builtins
    found = _resolutions(name)
    return bool(found) and all(_is_allowed_object(obj) for obj in found)


def _resolutions(name: str) -> list[object]:
    parts = name.split(".")
    found: list[object] = []
    for cut in range(1, len(parts)):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except Exception:  # not a module, or one that does not import: not this split
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            continue
        found.append(obj)
    return found


def _is_allowed_object(obj: object) -> bool:
    if isinstance(obj, types.ModuleType):
        return False
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str):
        return False
    return is_allowed_type(f"{module}.{qualname}")
