"""The synthetic world of ``fastmlops demo loop``: a binary target from four
numeric features, before and after a shift, and the two model families the
demo trains (scikit-learn, imported on first use).

Before the shift (``phase="base"``): features independent N(0, 1); the
log-odds are ``0.3 + 1.2 f0 - 1.0 f1 + 0.9 f2 f3``.  After it
(``phase="shifted"``): ``f0`` moves by +1.2 and ``f2`` spreads by 1.6 (the
inputs drift), and the log-odds become ``0.8 - 0.8 f0 - 1.0 f1 + 0.9 f2 f3
+ 0.8 f2`` (what the inputs mean changed too): a model trained before the
shift loses most of its ranking power, one retrained on recent data gets it
back.
"""

from __future__ import annotations

import importlib
import json
import threading
from collections import deque
from typing import Any

import numpy as np

from fastmlops._core.validation import check_choice, check_int

__all__ = ["FEATURES", "PHASES", "Traffic", "draw", "scores", "train"]

FEATURES = ("f0", "f1", "f2", "f3")
PHASES = ("base", "shifted")
#: The model families: a linear logistic regression, and one on the pairwise
#: interactions of the features too.
KINDS = ("linear", "interactions")


def shift_inputs(x: np.ndarray) -> np.ndarray:
    """The shift applied to base inputs (in place; returned)."""
    x[:, 0] += 1.2
    x[:, 2] *= 1.6
    return x


def labels(x: np.ndarray, phase: str, rng: np.random.Generator) -> np.ndarray:
    """Draw the labels of inputs ``x`` (n x 4) under ``phase``'s concept."""
    check_choice(phase, "phase", PHASES)
    if phase == "base":
        logit = 0.3 + 1.2 * x[:, 0] - 1.0 * x[:, 1] + 0.9 * x[:, 2] * x[:, 3]
    else:
        logit = 0.8 - 0.8 * x[:, 0] - 1.0 * x[:, 1] + 0.9 * x[:, 2] * x[:, 3] + 0.8 * x[:, 2]
    return (rng.random(x.shape[0]) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)


def inputs(rng: np.random.Generator, n: int, phase: str) -> np.ndarray:
    """``n`` rows of inputs of ``phase`` (n x 4 float64)."""
    check_choice(phase, "phase", PHASES)
    x = rng.standard_normal((check_int(n, "n", minimum=1), len(FEATURES)))
    return shift_inputs(x) if phase == "shifted" else x


def draw(rng: np.random.Generator, n: int, phase: str) -> tuple[np.ndarray, np.ndarray]:
    """``n`` labelled rows of ``phase``: (inputs n x 4, labels 0/1).

    >>> import numpy as np
    >>> x, y = draw(np.random.default_rng(0), 5, "shifted")
    >>> x.shape, set(y.tolist()) <= {0, 1}
    ((5, 4), True)
    """
    x = inputs(rng, n, phase)
    return x, labels(x, phase, rng)


def train(x: np.ndarray, y: np.ndarray, kind: str, seed: int) -> Any:
    """A fitted scikit-learn classifier of family ``kind`` (see :data:`KINDS`)."""
    check_choice(kind, "kind", KINDS)
    try:  # scikit-learn has no type hints: its objects are Any here
        linear = importlib.import_module("sklearn.linear_model")
        pipeline = importlib.import_module("sklearn.pipeline")
        prep = importlib.import_module("sklearn.preprocessing")
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("the loop demo trains scikit-learn models: pip install "
                          "'fastmlops[loop]'") from None
    if kind == "linear":
        model = linear.LogisticRegression(C=1.0, max_iter=500, random_state=seed)
    else:
        model = pipeline.make_pipeline(
            prep.PolynomialFeatures(2, include_bias=False), prep.StandardScaler(),
            linear.LogisticRegression(C=1.0, max_iter=1000, random_state=seed))
    return model.fit(x, y)


def scores(model: Any, x: np.ndarray) -> np.ndarray:
    """The model's probability of the positive class for each row."""
    return np.asarray(model.predict_proba(x)[:, 1], dtype=np.float64)


class Traffic:
    """Request bodies for the load generator: ``{"user": ..., "features":
    {...}}`` of base inputs, or shifted ones after :meth:`shift`; the rows
    sent since the shift are kept with their labels (drawn when the request
    is made: in the demo, the labels of recent traffic "arrive later").

    >>> t = Traffic(seed=1, keep=10)
    >>> sorted(json.loads(t.body(0))["features"]) == list(FEATURES)
    True
    >>> t.shift(); _ = t.body(1); x, y = t.recent_rows()
    >>> x.shape, y.shape
    ((1, 4), (1,))
    """

    def __init__(self, seed: int, keep: int) -> None:
        self.seed = check_int(seed, "seed", minimum=0)
        self.phase = "base"
        self.recent: deque[tuple[list[float], int]] = deque(
            maxlen=check_int(keep, "keep", minimum=1))
        self._lock = threading.Lock()

    def shift(self) -> None:
        """From now on, shifted inputs (and their labels are kept)."""
        self.phase = "shifted"

    def body(self, i: int) -> bytes:
        """The ``i``-th request's JSON body (the same for the same seed and i)."""
        rng = np.random.default_rng((self.seed, i))
        phase = self.phase
        x = inputs(rng, 1, phase)
        if phase == "shifted":
            y = int(labels(x, phase, rng)[0])
            with self._lock:
                self.recent.append((x[0].tolist(), y))
        features = dict(zip(FEATURES, x[0].tolist()))
        return json.dumps({"user": f"user-{(i * 7919) % 100_003}",
                           "features": features}).encode()

    def recent_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """(inputs n x 4, labels) of the rows kept since the shift."""
        with self._lock:
            rows = list(self.recent)
        return (np.array([r for r, _ in rows], dtype=np.float64).reshape(-1, len(FEATURES)),
                np.array([y for _, y in rows], dtype=np.int64))
