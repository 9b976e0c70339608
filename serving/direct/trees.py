"""The direct predictor of tree ensembles: ``DecisionTree*``, ``ExtraTree*``, ``RandomForest*``,
``ExtraTrees*``, ``GradientBoosting*`` and ``HistGradientBoosting*`` (classifier and regressor).

scikit-learn walks a forest one tree at a time, each call wrapped in its own machinery (joblib
dispatch, config and warning contexts, input checks): a one-row ``predict`` of 100 trees costs
~7-15 ms, of which walking the trees is a few percent. Here every tree's nodes sit in a few flat
arrays (``Nodes``) and all rows walk all trees at once, one level per step:

    idx = children[idx, x[feature[idx]] > threshold[idx]]

A leaf is its own left and right child, so ``depth`` steps land every (row, tree) on its leaf
whatever that tree's depth. Then the trees' leaf values are added in scikit-learn's order
(``np.cumsum`` adds one tree after the other, as scikit-learn's loops do; ``np.sum`` would add
pairwise and round differently) and finished by each estimator's own rule:

- trees, forests, GradientBoosting cast the rows to float32 and send ``float32(x) <= threshold``
  (float64) left; so does this module. HistGradientBoosting compares the float64 value.
- A missing value (NaN) goes where the node's ``missing_go_to_left`` says (trees, forests,
  HistGradientBoosting); GradientBoosting's ``predict_stages`` ignores that flag (NaN goes right),
  and so does this module, although GradientBoosting never gets NaN (its tags refuse it).
- forests: probabilities (or values) summed tree by tree from zero, then divided by the number
  of trees; ``predict`` is ``classes_[argmax]``. A single tree is a forest of one.
- GradientBoosting: the init estimator's raw prediction (constant for its Dummy estimators and
  ``"zero"``), then ``learning_rate * value`` stage by stage; binary ``raw >= 0``.
- HistGradientBoosting: the baseline, then the (already shrunk) leaf values iteration by
  iteration; binary ``raw > 0``; probabilities and regression through its own loss object.

``compile_trees`` only builds the predictor; ``check`` proves it: for every split node a row
that reaches it, with the split feature at the threshold's boundary values (``nextafter`` on
both sides and, where the estimator casts to float32, the float32 neighbours and the float64
values where float32 rounding flips), and NaN where the estimator takes it. Each such row is
walked through its own tree and must land on scikit-learn's leaf (its ``Tree.apply``, or the
leaf value of HistGradientBoosting's ``TreePredictor.predict``); then the whole model's answers
on the profile's rows and a sample of the boundary rows must equal scikit-learn's
(``modelops.serving.direct.verify``). Walking each boundary row through its own tree only keeps
the check linear in the model's size, so a 500-tree forest is checked in a fraction of a second.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from modelops.serving.direct import scaling

# Bound on the elements of one step's temporaries (rows x trees, or rows x nodes): predict and
# the checks go through rows in chunks within it.
_STEP_ELEMENTS = 1 << 20
# Two ways to walk (same answers): decide every node for the rows first (fewer numpy calls per
# level, one comparison per node) or decide only the nodes on the paths (fewer comparisons).
# Measured on RF100/RF500/HGB200 (4k-21k nodes): the first is faster for one row (the serving
# case, ~10-25%), even up to ~8 rows, the second beyond; the first is not used for models with
# many more nodes than (trees x depth), where most of its comparisons would be wasted.
_DECIDE_FIRST_ROWS = 8
_NODES_PER_TREE_LEVEL = 64
# Models with more split nodes than this are not checked at load (it would take too long):
# scikit-learn serves them.
MAX_SPLIT_NODES = 2_000_000
# Boundary rows also run through the whole model (beside the profile's rows), at most this many.
_ENSEMBLE_BOUNDARY_ROWS = 256
# The compiled form may take at most this multiple of the memory of scikit-learn's node arrays.
MEMORY_FACTOR = 2.0

Array = npt.NDArray[Any]
Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.intp]


@dataclass(frozen=True)
class Nodes:
    """Every tree's nodes in flat arrays; tree t starts at node ``roots[t]``."""

    feature: Ints  # a leaf's is 0 (never used)
    threshold: Floats
    children: Ints  # (2N,): node i's left child at 2i, right at 2i+1; a leaf's are itself
    nan_right: npt.NDArray[np.bool_]  # where a missing value goes right
    values: Floats  # (N, W): what each node adds when it is the leaf
    roots: Ints
    depth: int

    @property
    def nbytes(self) -> int:
        arrays = (self.feature, self.threshold, self.children, self.nan_right, self.values, self.roots)
        return sum(a.nbytes for a in arrays)

    @property
    def n_splits(self) -> int:
        return int(np.count_nonzero(self.children[0::2] != np.arange(len(self.feature))))

    def tree_of(self, node: Ints) -> Ints:
        return np.asarray(np.searchsorted(self.roots, node, side="right") - 1, dtype=np.intp)


@dataclass(frozen=True)
class _Tree:
    """One tree's arrays with local node ids; ``left == -1`` marks a leaf."""

    feature: Ints
    threshold: Floats
    left: Ints
    right: Ints
    nan_right: npt.NDArray[np.bool_]
    values: Floats  # (n, W)
    depth: int


def _flatten(trees: list[_Tree]) -> Nodes:
    sizes = np.array([len(t.feature) for t in trees], dtype=np.intp)
    roots = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)
    own = np.arange(int(sizes.sum()), dtype=np.intp)
    left = np.concatenate([t.left + r for t, r in zip(trees, roots, strict=True)])
    right = np.concatenate([t.right + r for t, r in zip(trees, roots, strict=True)])
    leaf = np.concatenate([t.left < 0 for t in trees])
    children = np.empty(2 * len(own), dtype=np.intp)
    children[0::2] = np.where(leaf, own, left)
    children[1::2] = np.where(leaf, own, right)
    return Nodes(
        feature=np.where(leaf, 0, np.concatenate([t.feature for t in trees])).astype(np.intp),
        threshold=np.concatenate([t.threshold for t in trees]).astype(np.float64),
        children=children,
        nan_right=np.concatenate([t.nan_right for t in trees]) & ~leaf,
        values=np.ascontiguousarray(np.concatenate([t.values for t in trees]), dtype=np.float64),
        roots=roots,
        depth=max(t.depth for t in trees),
    )


def leaves(nodes: Nodes, x: Array, start: Ints) -> Ints:
    """The leaf each row of ``x`` (already float32 where the model casts) reaches from each of
    its ``start`` nodes: ``start`` is (rows, trees), the answer too."""
    rows, width = start.shape
    n_nodes, depth = len(nodes.feature), nodes.depth
    decide_first = rows <= _DECIDE_FIRST_ROWS and n_nodes <= _NODES_PER_TREE_LEVEL * width * max(depth, 1)
    per_chunk = max(1, _STEP_ELEMENTS // (n_nodes if decide_first else width))
    if rows > per_chunk:
        return np.concatenate(
            [leaves(nodes, x[i : i + per_chunk], start[i : i + per_chunk]) for i in range(0, rows, per_chunk)]
        )
    if rows == 0 or depth == 0:
        return np.array(start, dtype=np.intp)
    missing = bool(np.isnan(x).any())
    children = nodes.children
    idx = start
    if decide_first:
        # Decide every node for these few rows at once (one call for all), then follow.
        values = np.take(x, nodes.feature, axis=1)
        right = values > nodes.threshold
        if missing:
            right |= np.isnan(values) & nodes.nan_right
        decided = right.ravel()
        if rows == 1:
            for _ in range(depth):
                idx = children[2 * idx + decided[idx]]
        else:
            offset = (np.arange(rows, dtype=np.intp) * n_nodes)[:, None]
            for _ in range(depth):
                idx = children[2 * idx + decided[idx + offset]]
        return idx
    flat = np.ascontiguousarray(x).ravel()
    offset = (np.arange(rows, dtype=np.intp) * x.shape[1])[:, None]
    for _ in range(depth):
        value = flat[nodes.feature[idx] + offset]
        right = value > nodes.threshold[idx]
        if missing:
            right |= np.isnan(value) & nodes.nan_right[idx]
        idx = children[2 * idx + right]
    return idx


def _float32(x: Array) -> Array:
    with np.errstate(over="ignore"):  # beyond float32's range is infinity, as in scikit-learn
        return x.astype(np.float32)


class _Readout:
    """How the per-column sums over the trees become scikit-learn's answers."""

    start: Floats | None = None  # added to the first tree's values (boosting's raw start)

    def predict(self, sums: Floats) -> Array:
        raise NotImplementedError

    def predict_proba(self, sums: Floats) -> Floats:
        raise NotImplementedError


class _Averaged(_Readout):
    """Trees and forests: the mean over the trees."""

    def __init__(self, n_trees: int, classes: Array | None) -> None:
        self.n_trees = n_trees
        self.classes = classes

    def predict_proba(self, sums: Floats) -> Floats:
        return sums / self.n_trees

    def predict(self, sums: Floats) -> Array:
        mean = sums / self.n_trees
        if self.classes is None:
            return mean.ravel()
        return np.asarray(self.classes.take(np.argmax(mean, axis=1), axis=0))


class _Boosted(_Readout):
    """GradientBoosting and HistGradientBoosting: raw sums through the estimator's loss."""

    def __init__(self, start: Floats, loss: Any, classes: Array | None, hist: bool) -> None:
        self.start = start
        self.loss = loss
        self.classes = classes
        self.hist = hist

    def predict(self, sums: Floats) -> Array:
        if self.classes is None:
            return np.asarray(self.loss.link.inverse(sums.ravel()) if self.hist else sums.ravel())
        if sums.shape[1] == 1:
            raw = sums.ravel()
            # HistGradientBoosting sends a raw 0 to classes_[0], GradientBoosting to classes_[1].
            encoded = (raw > 0 if self.hist else raw >= 0).astype(int)
        else:
            encoded = np.argmax(sums, axis=1)
        return np.asarray(self.classes[encoded])

    def predict_proba(self, sums: Floats) -> Floats:
        raw = sums if self.hist or sums.shape[1] > 1 else sums.ravel()
        return np.asarray(self.loss.predict_proba(raw), dtype=np.float64)


class TreeEnsemblePredictor:
    kind = "trees"

    def __init__(
        self,
        nodes: Nodes,
        scales: tuple[scaling.Scale, ...],
        *,
        float32: bool,
        readout: _Readout,
        columns: int,
        description: str,
    ) -> None:
        self.nodes = nodes
        self.scales = scales
        self.float32 = float32
        self.readout = readout
        self.columns = columns
        self.description = description

    def model_input(self, rows: Floats) -> Array:
        """Rows as the trees compare them: scaled, then float32 where the estimator casts."""
        x = scaling.apply(self.scales, rows)
        return _float32(x) if self.float32 else np.asarray(x, dtype=np.float64)

    def _sums(self, rows: Floats) -> Floats:
        x = self.model_input(rows)
        n = len(x)
        reached = leaves(self.nodes, x, np.broadcast_to(self.nodes.roots, (n, len(self.nodes.roots))))
        values = self.nodes.values[reached].reshape(n, -1, self.columns)
        if self.readout.start is not None:
            values[:, 0, :] += self.readout.start
        return np.cumsum(values, axis=1)[:, -1, :]

    def predict(self, rows: Floats) -> Array:
        return self.readout.predict(self._sums(rows))

    def predict_proba(self, rows: Floats) -> Floats:
        return self.readout.predict_proba(self._sums(rows))

    def answers(self, rows: Floats, proba: bool) -> tuple[Array, Floats | None]:
        """``predict`` and (if asked) ``predict_proba`` from one walk: for the load-time check."""
        sums = self._sums(rows)
        return self.readout.predict(sums), self.readout.predict_proba(sums) if proba else None


# -- from scikit-learn's fitted estimators ---------------------------------------------------


@dataclass(frozen=True)
class Compiled:
    predictor: TreeEnsemblePredictor
    # scikit-learn's own answer per tree for rows in the trees' input space: its leaf ids
    # ("leaf") or its leaf values ("value"), to compare with where our walk ends.
    reference: Callable[[int, Array], Array]
    compare: Literal["leaf", "value"]
    allow_nan: bool
    sklearn_bytes: int  # scikit-learn's node and value arrays


def _checked_by_leaf(predictor: TreeEnsemblePredictor, final: Any, estimators: list[Any]) -> Compiled:
    """A predictor over scikit-learn's own trees (float32 input), checked against the leaf each
    tree's ``apply`` reaches."""
    return Compiled(
        predictor,
        reference=lambda t, x: np.asarray(estimators[t].tree_.apply(np.ascontiguousarray(x, dtype=np.float32))),
        compare="leaf",
        allow_nan=_allow_nan(final),
        sklearn_bytes=_tree_bytes(estimators),
    )


def _sklearn_tree(estimator: Any, values: Floats, nan_right: bool | None = None) -> _Tree:
    tree = estimator.tree_
    return _Tree(
        feature=np.asarray(tree.feature, dtype=np.intp),
        threshold=np.asarray(tree.threshold, dtype=np.float64),
        left=np.asarray(tree.children_left, dtype=np.intp),
        right=np.asarray(tree.children_right, dtype=np.intp),
        nan_right=(
            ~np.asarray(tree.missing_go_to_left, dtype=bool)
            if nan_right is None
            else np.full(tree.node_count, nan_right)
        ),
        values=values,
        depth=int(tree.max_depth),
    )


def _tree_bytes(estimators: list[Any]) -> int:
    # A Node record is 64 bytes (children, feature, threshold, impurity, counts, missing flag).
    return sum(64 * e.tree_.node_count + e.tree_.value.nbytes for e in estimators)


def _plain_trees(estimators: list[Any], classifier: bool) -> str | None:
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor, ExtraTreeClassifier, ExtraTreeRegressor

    kinds = (DecisionTreeClassifier, ExtraTreeClassifier) if classifier else (DecisionTreeRegressor, ExtraTreeRegressor)
    for e in estimators:
        if type(e) not in kinds:
            return f"it holds a {type(e).__name__}, not a plain scikit-learn tree"
        if e.n_outputs_ != 1:
            return "it predicts several outputs"
    return None


def _allow_nan(estimator: Any) -> bool:
    from sklearn.utils import get_tags

    return bool(get_tags(estimator).input_tags.allow_nan)


def _averaged(final: Any, scales: tuple[scaling.Scale, ...]) -> Compiled | str:
    from sklearn.base import is_classifier

    estimators = list(getattr(final, "estimators_", [final]))
    classifier = bool(is_classifier(final))
    refused = _plain_trees(estimators, classifier)
    if refused:
        return refused
    if classifier:
        n_classes = int(final.n_classes_)
        trees = [_sklearn_tree(e, np.asarray(e.tree_.value[:, 0, :n_classes], dtype=np.float64)) for e in estimators]
        classes = np.asarray(final.classes_)
    else:
        n_classes = 1
        trees = [_sklearn_tree(e, np.asarray(e.tree_.value[:, 0, :1], dtype=np.float64)) for e in estimators]
        classes = None
    nodes = _flatten(trees)
    name = type(final).__name__
    predictor = TreeEnsemblePredictor(
        nodes,
        scales,
        float32=True,
        readout=_Averaged(len(estimators), classes),
        columns=n_classes,
        description=f"direct tree-ensemble predictor ({name}: {len(estimators)} trees, "
        f"{len(nodes.feature)} nodes, depth {nodes.depth})",
    )
    return _checked_by_leaf(predictor, final, estimators)


def _gradient_boosting(final: Any, scales: tuple[scaling.Scale, ...]) -> Compiled | str:
    from sklearn.base import is_classifier
    from sklearn.dummy import DummyClassifier, DummyRegressor

    init = final.init_
    constant_init = (type(init) is DummyClassifier and init.strategy in ("prior", "most_frequent", "constant")) or (
        type(init) is DummyRegressor
    )
    if not (isinstance(init, str) and init == "zero") and not constant_init:
        return f"its init estimator ({type(init).__name__}) is not one of its constant defaults"
    grid = final.estimators_
    stages, k = grid.shape
    estimators = [grid[i, j] for i in range(stages) for j in range(k)]
    refused = _plain_trees(estimators, classifier=False)
    if refused:
        return refused
    # The init's raw prediction does not depend on the row: computed once, on any row.
    start = np.asarray(final._raw_predict_init(np.zeros((1, final.n_features_in_))), dtype=np.float64)[0]
    rate = float(final.learning_rate)
    trees = [
        _sklearn_tree(e, rate * np.asarray(e.tree_.value[:, 0, :1], dtype=np.float64), nan_right=True)
        for e in estimators
    ]
    nodes = _flatten(trees)
    classifier = bool(is_classifier(final))
    predictor = TreeEnsemblePredictor(
        nodes,
        scales,
        float32=True,
        readout=_Boosted(start, final._loss, np.asarray(final.classes_) if classifier else None, hist=False),
        columns=k,
        description=f"direct tree-ensemble predictor ({type(final).__name__}: {stages} stages x {k}, "
        f"{len(nodes.feature)} nodes, depth {nodes.depth})",
    )
    return _checked_by_leaf(predictor, final, estimators)


def _hist_gradient_boosting(final: Any, scales: tuple[scaling.Scale, ...]) -> Compiled | str:
    from sklearn.base import is_classifier

    if getattr(final, "_preprocessor", None) is not None or getattr(final, "is_categorical_", None) is not None:
        return "it has categorical features"
    iterations = final._predictors
    k = int(final.n_trees_per_iteration_)
    predictors = [p for iteration in iterations for p in iteration]
    if not predictors or any(len(iteration) != k for iteration in iterations):
        return "its iterations do not all hold one tree per output"
    trees = []
    for p in predictors:
        n = p.nodes
        if n["is_categorical"].any():
            return "it splits on categorical features"
        leaf = n["is_leaf"].astype(bool)
        trees.append(
            _Tree(
                feature=np.asarray(n["feature_idx"], dtype=np.intp),
                threshold=np.asarray(n["num_threshold"], dtype=np.float64),
                left=np.where(leaf, -1, n["left"].astype(np.intp)),
                right=np.where(leaf, -1, n["right"].astype(np.intp)),
                nan_right=~n["missing_go_to_left"].astype(bool),
                values=np.asarray(n["value"], dtype=np.float64)[:, None],
                depth=int(n["depth"].max()),
            )
        )
    nodes = _flatten(trees)
    classifier = bool(is_classifier(final))
    start = 0.0 + np.asarray(final._baseline_prediction, dtype=np.float64).reshape(k)
    known, f_idx_map = final._bin_mapper.make_known_categories_bitsets()
    predictor = TreeEnsemblePredictor(
        nodes,
        scales,
        float32=False,
        readout=_Boosted(start, final._loss, np.asarray(final.classes_) if classifier else None, hist=True),
        columns=k,
        description=f"direct tree-ensemble predictor ({type(final).__name__}: {len(iterations)} iterations x {k}, "
        f"{len(nodes.feature)} nodes, depth {nodes.depth})",
    )
    return Compiled(
        predictor,
        reference=lambda t, x: np.asarray(
            predictors[t].predict(np.ascontiguousarray(x, dtype=np.float64), known, f_idx_map, 1)
        ),
        compare="value",
        allow_nan=_allow_nan(final),
        sklearn_bytes=sum(p.nodes.nbytes for p in predictors),
    )


def compile_trees(scales: tuple[scaling.Scale, ...], final: Any) -> Compiled | str | None:
    """The direct predictor of ``final`` (behind ``scales``); None when ``final`` is no tree
    model, why not when it is one this module cannot take. Not yet checked: see ``check``."""
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        ExtraTreesRegressor,
        GradientBoostingClassifier,
        GradientBoostingRegressor,
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor, ExtraTreeClassifier, ExtraTreeRegressor

    kind = type(final)
    compiled: Compiled | str
    averaged: tuple[type, ...] = (
        DecisionTreeClassifier,
        DecisionTreeRegressor,
        ExtraTreeClassifier,
        ExtraTreeRegressor,
    )
    averaged += (RandomForestClassifier, RandomForestRegressor, ExtraTreesClassifier, ExtraTreesRegressor)
    if kind in averaged:
        compiled = _averaged(final, scales)
    elif kind in (GradientBoostingClassifier, GradientBoostingRegressor):
        compiled = _gradient_boosting(final, scales)
    elif kind in (HistGradientBoostingClassifier, HistGradientBoostingRegressor):
        compiled = _hist_gradient_boosting(final, scales)
    else:
        return None
    if isinstance(compiled, str):
        return f"{kind.__name__}: {compiled}"
    nodes = compiled.predictor.nodes
    if nodes.nbytes > MEMORY_FACTOR * compiled.sklearn_bytes:
        return (
            f"{kind.__name__}: its compiled form would take {nodes.nbytes} bytes, more than "
            f"{MEMORY_FACTOR:g}x scikit-learn's {compiled.sklearn_bytes}"
        )
    if nodes.n_splits > MAX_SPLIT_NODES:
        return f"{kind.__name__}: {nodes.n_splits} split nodes, more than the {MAX_SPLIT_NODES} checked at load"
    return compiled


# -- the boundary rows -----------------------------------------------------------------------


def _float32_neighbours(t: Floats) -> tuple[Floats, Floats]:
    """(the largest float32 <= t, the smallest float32 > t), as float64."""
    with np.errstate(over="ignore"):
        nearest = t.astype(np.float32)
    below = np.where(nearest > t, np.nextafter(nearest, np.float32(-np.inf)), nearest).astype(np.float64)
    above = np.where(nearest <= t, np.nextafter(nearest, np.float32(np.inf)), nearest).astype(np.float64)
    return below, above


def _sides(t: Floats, float32: bool) -> tuple[Floats, Floats]:
    """A value that goes left and one that goes right at each threshold, nearest to it."""
    return _float32_neighbours(t) if float32 else (t, np.nextafter(t, np.inf))


def boundary_values(t: Floats, float32: bool, allow_nan: bool) -> Floats:
    """(splits, V): per threshold the values where its decision flips, both sides."""
    columns = [t, np.nextafter(t, -np.inf), np.nextafter(t, np.inf)]
    if float32:
        below, above = _float32_neighbours(t)
        # Between two float32 neighbours float64 values round to one or the other: the flip.
        middle = below / 2 + above / 2
        columns += [below, above, middle, np.nextafter(middle, -np.inf), np.nextafter(middle, np.inf)]
    if allow_nan:
        columns.append(np.full_like(t, np.nan))
    return np.column_stack(columns)


def boundary_rows(
    nodes: Nodes, first: int, last: int, base: Floats, *, float32: bool, allow_nan: bool
) -> tuple[Floats, Ints]:
    """For every split node of trees ``first``..``last - 1``: rows that reach it, with its
    feature at each boundary value of its threshold; and the tree each row is for."""
    low = int(nodes.roots[first])
    high = int(nodes.roots[last]) if last < len(nodes.roots) else len(nodes.feature)
    n = high - low
    # A row reaching each node: the parent's, with the split feature on the child's side of
    # the threshold as near to it as possible, which keeps every ancestor's decision (a
    # threshold lies between two training values that reached the node).
    reach = np.empty((n, len(base)), dtype=np.float64)
    frontier = nodes.roots[first:last]
    reach[frontier - low] = base
    split_nodes = []
    while frontier.size:
        split = frontier[nodes.children[2 * frontier] != frontier]
        split_nodes.append(split)
        feature, (left_value, right_value) = nodes.feature[split], _sides(nodes.threshold[split], float32)
        for side, value in ((0, left_value), (1, right_value)):
            child = nodes.children[2 * split + side]
            reach[child - low] = reach[split - low]
            kept = reach[split - low, feature]
            reach[child - low, feature] = np.where(np.isfinite(value), value, kept)
        frontier = nodes.children[np.concatenate([2 * split, 2 * split + 1])]
    splits = np.sort(np.concatenate(split_nodes)) if split_nodes else np.zeros(0, dtype=np.intp)
    values = boundary_values(nodes.threshold[splits], float32, allow_nan)
    per = values.shape[1]
    rows = np.repeat(reach[splits - low], per, axis=0)
    rows[np.arange(len(rows)), np.repeat(nodes.feature[splits], per)] = values.ravel()
    tree = np.repeat(nodes.tree_of(splits), per)
    # The codec lets no infinity through; past float32's range a value is infinity to the trees.
    limit = float(np.finfo(np.float32).max) if float32 else np.inf
    keep = ~(np.abs(values.ravel()) > limit)
    return rows[keep], tree[keep]


def _tree_chunks(nodes: Nodes, per_row: int, n_features: int) -> Iterator[tuple[int, int]]:
    """Runs of whole trees whose boundary rows stay within the step bound."""
    sizes = np.diff(np.append(nodes.roots, len(nodes.feature)))
    budget = max(1, _STEP_ELEMENTS // max(1, per_row * n_features))
    first, total = 0, 0
    for t, size in enumerate(sizes):
        if total and total + size > budget:
            yield first, t
            first, total = t, 0
        total += int(size)
    yield first, len(sizes)


def check(compiled: Compiled, tree_space_base: Floats) -> tuple[str | None, Floats]:
    """Why some boundary row does not land on scikit-learn's leaf in its tree (None when all
    do), and a sample of the boundary rows (in the trees' input space) for the whole-model check."""
    predictor = compiled.predictor
    nodes, float32 = predictor.nodes, predictor.float32
    per_row = boundary_values(np.zeros(1), float32, compiled.allow_nan).shape[1]
    every = max(1, nodes.n_splits * per_row // _ENSEMBLE_BOUNDARY_ROWS)
    sample = []
    for first, last in _tree_chunks(nodes, per_row, len(tree_space_base)):
        rows, tree = boundary_rows(nodes, first, last, tree_space_base, float32=float32, allow_nan=compiled.allow_nan)
        sample.append(rows[::every])
        x = _float32(rows) if float32 else rows
        ours = leaves(nodes, x, nodes.roots[tree][:, None])[:, 0]
        bounds = np.searchsorted(tree, np.arange(first, last + 1))
        for t in range(first, last):
            part = slice(int(bounds[t - first]), int(bounds[t - first + 1]))
            if part.start == part.stop:
                continue
            theirs = compiled.reference(t, x[part])
            mine = ours[part] - nodes.roots[t] if compiled.compare == "leaf" else nodes.values[ours[part], 0]
            if not np.array_equal(mine, theirs):
                wrong = int(np.count_nonzero(mine != theirs))
                return (
                    f"tree {t} sends {wrong} of its {part.stop - part.start} threshold-boundary rows "
                    f"to another leaf than scikit-learn does"
                ), np.zeros((0, len(tree_space_base)))
    return None, np.concatenate(sample) if sample else np.zeros((0, len(tree_space_base)))
