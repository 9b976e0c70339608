"""Which types a skops file may contain before modelops will load it: an explicit list.

skops never runs pickle; it rebuilds objects from a schema (``schema.json`` in the zip):
it imports a node's ``__module__``, takes its ``__class__`` from it, and makes an instance
without calling ``__init__``, setting ``__dict__`` (or calling ``__setstate__``) from the
file. So any importable class can be instantiated with a state of the author's choosing,
and its ``__del__`` runs when the object is freed: ``numpy.lib._datasource.Repository``
(its ``DataSource.__del__`` removes ``_destpath`` when ``_istmpdest``) deleted a directory
of the file's choosing under the old allow-list of prefixes (``numpy.``, ``sklearn.``).

Every type named anywhere in the schema (not only those skops itself distrusts) must be one
of these, by name *and* by what the name resolves to (skops resolves ``module.attr``, so an
alias such as ``numpy.lib._datasource._open``, which is ``io.open``, is judged as itself):

- scikit-learn's estimators and transformers (``sklearn.utils.all_estimators()``);
- the helper types fitted estimators hold, derived by persisting a broad set of fitted
  estimators (linear models, trees, forests, gradient boosting and HistGradientBoosting,
  SVMs, neighbours, naive Bayes, MLPs, calibration, pipelines, ColumnTransformer, scalers,
  encoders, imputers, text vectorisers, searches) and reviewing what their files name:
  ``HELPER_TYPES``;
- numpy arrays, dtypes, scalar types and random states, scipy.sparse matrices and arrays;
- numpy and ``scipy.special`` ufuncs, and the few plain functions estimators keep
  (``HELPER_FUNCTIONS``);
- the builtins and containers skops writes.

A type admitted as a member of one of those families must also not define ``__del__``,
``__reduce__`` or ``__setstate__`` in a class whose hooks were not reviewed
(``REVIEWED_HOOKS``): such hooks run on rebuild or on free, so a future library release
adding one is refused until looked at. A refused name is reported as the file spells it,
with the hook it defines when its module is already imported (a refused module is never
imported just to say why).
"""

from __future__ import annotations

import functools
import importlib
import io
import json
import sys
import types
import warnings
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

# What the fitted estimators of scikit-learn 1.4-1.9 keep besides estimators, arrays and
# builtins (names as skops writes them; a name that does not exist in the installed
# version is simply never allowed).
HELPER_TYPES: tuple[str, ...] = (
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    # Its `nodes` array is trusted like a Tree's; skops leaves it out of its defaults for that
    # reason, but HistGradientBoosting models cannot be served without it.
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.ensemble._gb.VerboseReporter",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.utils._bunch.Bunch",
    "sklearn.metrics._scorer._PassthroughScorer",
    "sklearn.metrics._scorer._Scorer",
    "sklearn.metrics._scorer._MultimetricScorer",
    "scipy.interpolate._bsplines.BSpline",  # SplineTransformer
    "functools.partial",  # of an allowed function only: the function is reviewed too
    *(f"sklearn._loss.loss.{name}" for name in (
        "AbsoluteError", "ExponentialLoss", "HalfBinomialLoss", "HalfGammaLoss", "HalfMultinomialLoss",
        "HalfPoissonLoss", "HalfSquaredError", "HalfTweedieLoss", "HalfTweedieLossIdentity", "HuberLoss",
        "PinballLoss")),
    *(f"sklearn._loss._loss.{name}" for name in (
        "CyAbsoluteError", "CyExponentialLoss", "CyHalfBinomialLoss", "CyHalfGammaLoss", "CyHalfMultinomialLoss",
        "CyHalfPoissonLoss", "CyHalfSquaredError", "CyHalfTweedieLoss", "CyHalfTweedieLossIdentity",
        "CyHuberLoss", "CyPinballLoss")),
    *(f"sklearn._loss.link.{name}" for name in (
        "HalfLogitLink", "IdentityLink", "Interval", "LogLink", "LogitLink", "MultinomialLogit")),
    *(f"sklearn.linear_model._sgd_fast.{name}" for name in (
        "Hinge", "SquaredHinge", "ModifiedHuber", "Log", "SquaredLoss", "Huber", "EpsilonInsensitive",
        "SquaredEpsilonInsensitive")),
    # Distance metrics of neighbours models (not PyFuncDistance, which holds any function).
    *(f"sklearn.metrics._dist_metrics.{name}{bits}" for bits in ("32", "64") for name in (
        "EuclideanDistance", "SEuclideanDistance", "ManhattanDistance", "ChebyshevDistance",
        "MinkowskiDistance", "MahalanobisDistance", "HammingDistance", "CanberraDistance",
        "BrayCurtisDistance", "JaccardDistance", "MatchingDistance", "DiceDistance", "KulsinskiDistance",
        "RogersTanimotoDistance", "RussellRaoDistance", "SokalMichenerDistance", "SokalSneathDistance",
        "HaversineDistance")),
    # Cross-validation splitters kept by searches and calibrated classifiers.
    *(f"sklearn.model_selection._split.{name}" for name in (
        "KFold", "StratifiedKFold", "GroupKFold", "StratifiedGroupKFold", "RepeatedKFold",
        "RepeatedStratifiedKFold", "ShuffleSplit", "StratifiedShuffleSplit", "GroupShuffleSplit",
        "LeaveOneOut", "LeavePOut", "LeaveOneGroupOut", "LeavePGroupsOut", "PredefinedSplit",
        "TimeSeriesSplit", "_CVIterableWrapper")),
)
HELPER_FUNCTIONS: tuple[str, ...] = (
    "sklearn.utils.validation.check_array",
    "scipy._lib.array_api_compat.numpy._aliases.asarray",
    *(f"sklearn.feature_selection._univariate_selection.{name}" for name in (
        "f_classif", "f_regression", "chi2", "r_regression", "f_oneway")),
    *(f"sklearn.feature_selection._mutual_info.{name}" for name in (
        "mutual_info_classif", "mutual_info_regression")),
)
BUILTINS: tuple[str, ...] = (
    "builtins.slice", "builtins.tuple", "builtins.list", "builtins.dict", "builtins.set", "builtins.frozenset",
    "builtins.int", "builtins.float", "builtins.complex", "builtins.bool", "builtins.str", "builtins.bytes",
    "builtins.bytearray", "builtins.NoneType",
    "collections.OrderedDict", "collections.defaultdict",
)
# Classes whose __del__/__reduce__/__setstate__ were read: they only restore their own state.
REVIEWED_HOOKS: frozenset[str] = frozenset({
    "sklearn.base.BaseEstimator",  # __setstate__: a version warning, then __dict__.update
    "sklearn.isotonic.IsotonicRegression",  # __setstate__: rebuilds its interpolation
    "numpy.ndarray", "numpy.generic", "numpy.dtype", "numpy.ma.MaskedArray",
    "numpy.random.mtrand.RandomState", "numpy.random._generator.Generator",
    "scipy.sparse._coo.coo_matrix", "scipy.sparse._dok._dok_base",
})
HOOKS = ("__del__", "__reduce__", "__setstate__")


@dataclass(frozen=True)
class Refused:
    """A type a skops file names that modelops will not rebuild, and why."""

    name: str
    why: str

    def __str__(self) -> str:
        return f"{self.name} ({self.why})"


def schema_types(data: bytes) -> set[tuple[str, str]]:
    """Every (module, name) pair a skops file's schema names, however deeply nested.
    ValueError when the file is not a zip with a JSON ``schema.json``."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            schema = json.loads(archive.read("schema.json"))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ValueError(f"no readable schema.json: {exc}") from None
    found: set[tuple[str, str]] = set()
    for node in _nodes(schema):
        module, name = node.get("__module__"), node.get("__class__")
        if module is None and name is None:
            continue
        found.add((str(module), str(name)))
    return found


def _nodes(value: object) -> Iterator[Mapping[str, Any]]:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def review(pairs: Iterable[tuple[str, str]]) -> list[Refused]:
    """The refused ones among (module, name) pairs as a skops schema spells them, sorted."""
    allowed = _allowed()
    refused = {}
    for module, name in pairs:
        full = f"{module}.{name}"
        why = _why_refused(module, name, allowed)
        if why is not None:
            refused[full] = Refused(full, why)
    return [refused[k] for k in sorted(refused)]


def _why_refused(module: str, name: str, allowed: Mapping[str, object]) -> str | None:
    full = f"{module}.{name}"
    if full not in allowed:
        hook = _hook_if_loaded(module, name)
        return "not on the allow-list" + (f"; it defines {hook}, which runs on rebuild or free" if hook else "")
    target = allowed[full]
    if full in BUILTINS:
        return None  # `builtins.NoneType` is not even an attribute of builtins
    try:
        obj: object = importlib.import_module(module)
        for attr in name.split("."):
            obj = getattr(obj, attr)
    except (ImportError, AttributeError):
        return "does not resolve to the allowed object of that name"
    if obj is not target:
        return f"resolves to {_describe(obj)}, not the allowed {full}"
    if isinstance(obj, type) and full not in _explicit():
        hook = _unreviewed_hook(obj)
        if hook is not None:
            return f"defines {hook}, which runs on rebuild or free and was not reviewed"
    return None


def _hook_if_loaded(module: str, name: str) -> str | None:
    """The rebuild/free hook a refused type defines, if its module is imported already."""
    loaded = sys.modules.get(module)
    if loaded is None:
        return None
    obj: object = loaded
    for attr in name.split("."):
        obj = getattr(obj, attr, None)
    if not isinstance(obj, type):
        return None
    for klass in obj.__mro__:
        for hook in HOOKS:
            if klass is not object and hook in vars(klass):
                return f"{hook} (in {_qualified(klass)})"
    return None


def _unreviewed_hook(klass: type) -> str | None:
    for base in klass.__mro__:
        if base is object or _qualified(base) in REVIEWED_HOOKS or _qualified(base) in _explicit():
            continue
        for hook in HOOKS:
            if hook in vars(base):
                return f"{hook} (in {_qualified(base)})"
    return None


def _qualified(obj: object) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', getattr(obj, '__name__', '?'))}"


def _describe(obj: object) -> str:
    if isinstance(obj, types.ModuleType):
        return f"module {obj.__name__}"
    return _qualified(obj)


@functools.cache
def _explicit() -> frozenset[str]:
    return frozenset(HELPER_TYPES) | frozenset(HELPER_FUNCTIONS)


@functools.cache
def _allowed() -> Mapping[str, object]:
    """Every allowed name and the object it must resolve to (built once, on first use)."""
    import numpy as np
    import scipy.sparse
    import scipy.special
    from sklearn.utils import all_estimators

    allowed: dict[str, object] = dict.fromkeys(BUILTINS)

    def add_type(klass: object) -> None:
        allowed[_qualified(klass)] = klass

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated estimators still import with a warning
        for _name, klass in all_estimators():
            if klass.__module__.startswith("sklearn."):
                add_type(klass)
    for name in (*HELPER_TYPES, *HELPER_FUNCTIONS):
        obj = _resolve_canonical(name)
        if obj is not None:
            allowed[name] = obj
    for klass in {*np.sctypeDict.values(), np.ndarray, np.dtype, np.ma.MaskedArray,
                  np.random.RandomState, np.random.Generator}:
        add_type(klass)
    # skops names a dtype class by its scalar type, and the short public spellings of arrays.
    allowed["numpy.ndarray"] = np.ndarray
    allowed["numpy.dtype"] = np.dtype
    allowed["numpy.ma.MaskedArray"] = np.ma.MaskedArray
    for attr in dir(np.random):
        bit_generator = getattr(np.random, attr)
        if isinstance(bit_generator, type) and issubclass(bit_generator, np.random.BitGenerator):
            add_type(bit_generator)
    for attr in dir(scipy.sparse):
        klass = getattr(scipy.sparse, attr)
        if isinstance(klass, type) and issubclass(klass, (scipy.sparse.spmatrix, scipy.sparse.sparray)):
            add_type(klass)
    # ufuncs are pure arithmetic; skops names them by their public module.
    for module in (np, scipy.special):
        for attr in dir(module):
            if isinstance(getattr(module, attr), np.ufunc):
                allowed[f"{module.__name__}.{attr}"] = getattr(module, attr)
    return allowed


def _resolve_canonical(name: str) -> object | None:
    parts = name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None
