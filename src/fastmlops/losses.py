"""Preference losses for reward models and DPO, with the numbers training logs report.

* :func:`bradley_terry_loss` -- reward-model loss ``-log sigmoid(r_w - r_l)``.
* :func:`dpo_loss` -- Direct Preference Optimization loss
  ``-log sigmoid(beta * ((pi_w - ref_w) - (pi_l - ref_l)))``.

Both return the mean ``loss``, the per-example ``losses``, the reward margin
and the accuracy (share of pairs whose chosen reward beats the rejected one),
and optionally the gradients with respect to the policy log-probabilities (or
the rewards).  ``-log sigmoid(x)`` is computed as ``logaddexp(0, -x)``, so
log-ratios of +-1e4 give exact losses (``0`` and ``1e4``) instead of overflow.
float32 input (float16 is widened to float32) gives float32 arrays when every
input is float32 or float16 (sums are accumulated in float64); other numbers
are computed in float64.  One pass over the data on a Numba kernel,
split over the worker threads for large inputs.

Large per-example outputs (4 MiB and more) come from a few recycled buffers,
as a training loop calls these on batches of one size: a fresh array would
pay its page faults on every call.  A buffer is reused only once no result
or view of it is alive; :func:`release_buffers` drops the idle ones.

NaN in the inputs propagates, as in PyTorch: that pair's loss, the mean loss
and the reward margin are NaN (so a training loop's NaN check catches it), and
the pair counts as not correct in ``accuracy``.
"""

from __future__ import annotations

import math
import sys
import threading
from typing import Callable

import numpy as np
from numpy.typing import ArrayLike

from fastmlops._core.validation import as_numeric_array, check_bool, check_positive

__all__ = ["dpo_loss", "bradley_terry_loss", "PreferenceLoss", "release_buffers"]

_CHUNK_MIN = 1 << 18  # pairs per thread at least

# ------------------------------------------------------------ output buffers
# A training or evaluation loop calls these losses on batches of one size, and
# a fresh array of that size costs its page faults on every call (the kernel
# zeroes every new page: about a quarter of the time of a 1e7-pair DPO loss).
# So large outputs come from a few recycled buffers.  A buffer is handed out
# again only when nothing but this pool refers to it: a result (or any view of
# it, which holds its base) that is still alive keeps its buffer out of reuse.
_RECYCLE_MIN_BYTES = 4 << 20
_POOL_SIZE = 4
_pool: list[np.ndarray] = []
_pool_lock = threading.Lock()


def _refs(pool: list, i: int) -> int:
    """``sys.getrefcount`` of ``pool[i]``, always taken through this one call so
    that the count a free buffer shows is the one measured below."""
    return sys.getrefcount(pool[i])


# The count of a pooled buffer that nothing else refers to (the list and the
# temporaries of the check above), measured rather than assumed: interpreters
# differ in the temporary references they take (Python 3.14 borrows some), and
# a threshold one too high would hand out a buffer a live result still uses.
_FREE_REFS = _refs([np.empty(1)], 0) if hasattr(sys, "getrefcount") else 0


def release_buffers() -> None:
    """Drop the recycled output buffers (up to four arrays of 4 MiB or more kept
    for the next call of the same size), e.g. when a training loop ends."""
    with _pool_lock:
        _pool.clear()


def _output(n: int, dtype: np.dtype) -> np.ndarray:
    """An uninitialised array of ``n`` values: a recycled buffer if one of that
    size is free, else a new one (kept for reuse if large)."""
    if n * dtype.itemsize < _RECYCLE_MIN_BYTES or _FREE_REFS < 1:
        return np.empty(n, dtype=dtype)
    with _pool_lock:
        for i in range(len(_pool)):
            if _pool[i].shape[0] == n and _pool[i].dtype == dtype \
                    and _refs(_pool, i) <= _FREE_REFS:
                return _pool[i][:]  # a view: the caller's references keep it out of reuse
        if len(_pool) >= _POOL_SIZE:  # make room by dropping a free buffer, if any
            for i in range(len(_pool)):
                if _refs(_pool, i) <= _FREE_REFS:
                    del _pool[i]
                    break
        buf = np.empty(n, dtype=dtype)
        if len(_pool) < _POOL_SIZE:
            _pool.append(buf)
        return buf[:]


_Rewards = tuple[np.ndarray, np.ndarray]  # (chosen, rejected)


class PreferenceLoss(tuple):
    """Result of :func:`dpo_loss` and :func:`bradley_terry_loss`.

    Unpacks as ``(loss, losses)``.  Attributes:

    * ``loss`` -- mean loss (float).
    * ``losses`` -- per-example losses (array, input dtype and shape; ``out``
      itself when one was passed).
    * ``chosen_rewards``, ``rejected_rewards`` -- per-example rewards: the
      implicit DPO rewards ``beta * (pi - ref)``, or the reward-model scores
      for Bradley-Terry (computed on first access).
    * ``margins`` -- ``chosen_rewards - rejected_rewards`` per example (on every
      access); ``reward_margin`` -- their mean, computed with the loss.
    * ``accuracy`` -- share of pairs with ``chosen_rewards > rejected_rewards``.
    * ``grad_chosen``, ``grad_rejected`` -- gradients of the *mean* loss with
      respect to the policy chosen / rejected log-probabilities (DPO) or the
      chosen / rejected rewards (Bradley-Terry); None unless ``grad=True``.

    The inputs are not copied: the Bradley-Terry rewards *are* the input
    arrays, and the DPO rewards are computed from them on first access, for
    every input that needed no conversion (already C-contiguous in the result
    dtype).  Modifying such an input in place afterwards (a reused batch
    buffer) changes ``chosen_rewards``, ``rejected_rewards`` and ``margins``
    (not ``losses``, ``loss``, ``reward_margin`` or ``accuracy``); read them
    first, or pass copies.
    """

    _fields = ("loss", "losses", "chosen_rewards", "rejected_rewards", "margins",
               "reward_margin", "accuracy", "grad_chosen", "grad_rejected")

    reward_margin: float
    accuracy: float
    _rewards: _Rewards | Callable[[], _Rewards]
    _grad: np.ndarray | None

    def __new__(cls, loss: float, losses: np.ndarray, reward_margin: float, accuracy: float,
                rewards: _Rewards | Callable[[], _Rewards],
                grad: np.ndarray | None) -> "PreferenceLoss":
        self = super().__new__(cls, (loss, losses))
        self.reward_margin = reward_margin
        self.accuracy = accuracy
        self._rewards = rewards  # callable -> (chosen, rejected), or the pair
        self._grad = grad
        return self

    loss = property(lambda self: self[0], doc="Mean loss.")
    losses = property(lambda self: self[1], doc="Per-example losses.")

    def _pair(self) -> tuple[np.ndarray, np.ndarray]:
        if callable(self._rewards):
            self._rewards = self._rewards()
        return self._rewards

    @property
    def chosen_rewards(self) -> np.ndarray:
        """Per-example reward of the chosen response."""
        return self._pair()[0]

    @property
    def rejected_rewards(self) -> np.ndarray:
        """Per-example reward of the rejected response."""
        return self._pair()[1]

    @property
    def margins(self) -> np.ndarray:
        """Per-example ``chosen_rewards - rejected_rewards``."""
        c, r = self._pair()
        return c - r

    @property
    def grad_chosen(self) -> np.ndarray | None:
        """d loss / d chosen input (policy logp or reward); None without ``grad=True``."""
        return None if self._grad is None else -self._grad

    @property
    def grad_rejected(self) -> np.ndarray | None:
        """d loss / d rejected input; None without ``grad=True``."""
        return self._grad

    def _asdict(self) -> dict[str, float | np.ndarray | None]:
        return {name: getattr(self, name) for name in self._fields}

    def __repr__(self) -> str:
        return (f"PreferenceLoss(loss={self.loss!r}, reward_margin={self.reward_margin!r}, "
                f"accuracy={self.accuracy!r}, n={self.losses.size})")

    def __reduce__(self) -> tuple:
        return (PreferenceLoss, (self.loss, self.losses, self.reward_margin, self.accuracy,
                                 self._pair(), self._grad))


def _inputs(arrays: dict[str, ArrayLike]) -> tuple[list[np.ndarray], tuple[int, ...], np.dtype]:
    converted = {name: as_numeric_array(x, name) for name, x in arrays.items()}
    shapes = {a.shape for a in converted.values()}
    if len(shapes) != 1:
        detail = ", ".join(f"{n}{a.shape}" for n, a in converted.items())
        raise ValueError(f"all inputs must have the same shape (one value per pair); got {detail}")
    shape = shapes.pop()
    if 0 in shape or shape == ():
        raise ValueError("inputs must be non-empty arrays with one value per preference pair"
                         + ("; got scalars, wrap them in a list" if shape == () else ""))
    dtype = (np.dtype(np.float32) if all(a.dtype == np.float32 for a in converted.values())
             else np.dtype(np.float64))
    flat = [np.ascontiguousarray(a, dtype=dtype).reshape(-1) for a in converted.values()]
    return flat, shape, dtype


def _out(out: np.ndarray | None, shape: tuple[int, ...], dtype: np.dtype,
         inputs: list[np.ndarray]) -> np.ndarray | None:
    """The kernel's 1-D view of ``out``, after checking it."""
    if out is None:
        return None
    if not isinstance(out, np.ndarray) or out.shape != shape or out.dtype != dtype \
            or not out.flags.c_contiguous or not out.flags.writeable:
        got = (f"{out.dtype} array of shape {out.shape}" if isinstance(out, np.ndarray)
               else type(out).__name__)
        raise ValueError(f"out must be a writeable C-contiguous {dtype} array of shape {shape} "
                         f"(the inputs' shape and result dtype), got {got}")
    # a plain ndarray view: subclasses such as np.matrix keep 2-D on reshape(-1),
    # and the kernel would then write whole rows past the end of the array
    flat = out.view(np.ndarray).reshape(-1)
    if any(np.may_share_memory(flat, x) for x in inputs):
        raise ValueError("out must not share memory with an input (the rewards and margins "
                         "are read from the inputs after the losses are written); pass a "
                         "separate array, or out=None")
    return flat


def _run(chunk_fn: Callable[..., tuple[float, float, int]],
         grad_fn: Callable[..., tuple[float, float, int]], inputs: list[np.ndarray],
         extra: tuple, dtype: np.dtype, grad: bool, out: np.ndarray | None = None
         ) -> tuple[np.ndarray, np.ndarray | None, float, float, int]:
    from fastmlops._core.parallel import chunk_bounds, n_workers, parallel_map

    n = inputs[0].shape[0]
    losses = _output(n, dtype) if out is None else out
    g = _output(n, dtype) if grad else None
    scale = dtype.type(1.0 / n)

    def work(bounds: tuple[int, int]) -> tuple[float, float, int]:
        from fastmlops._kernels.losses import BLOCK

        a, b = bounds
        parts = [x[a:b] for x in inputs]
        bits = np.empty(BLOCK, np.int64)
        scratch = (bits, bits.view(np.float64))
        if g is not None:  # grad=True
            return grad_fn(*parts, *extra, losses[a:b], g[a:b], scale, *scratch)
        return chunk_fn(*parts, *extra, losses[a:b], *scratch)

    sums = parallel_map(work, chunk_bounds(n, n_workers(), _CHUNK_MIN))
    total = math.fsum(s[0] for s in sums)
    margin = math.fsum(s[1] for s in sums)
    correct = sum(int(s[2]) for s in sums)
    return losses, g, total, margin, correct


def dpo_loss(policy_chosen_logps: ArrayLike, policy_rejected_logps: ArrayLike,
             reference_chosen_logps: ArrayLike, reference_rejected_logps: ArrayLike,
             beta: float = 0.1,
             *, grad: bool = False, out: np.ndarray | None = None) -> PreferenceLoss:
    """Direct Preference Optimization loss (Rafailov et al., 2023).

    Per pair, with the implicit rewards ``r_w = beta * (pi_w - ref_w)`` and
    ``r_l = beta * (pi_l - ref_l)``::

        loss = -log sigmoid(r_w - r_l)

    Parameters
    ----------
    policy_chosen_logps, policy_rejected_logps : array_like
        Log-probabilities of the chosen / rejected responses under the policy
        (summed over tokens), one per pair.
    reference_chosen_logps, reference_rejected_logps : array_like
        The same under the frozen reference model.  All four of one shape.
    beta : float, default 0.1
        Strength of the KL penalty (temperature of the implicit reward).
    grad : bool, default False
        Also compute ``grad_chosen`` / ``grad_rejected``, the gradients of the
        mean loss with respect to the policy log-probabilities:
        ``-/+ beta * sigmoid(-(r_w - r_l)) / n``.
    out : ndarray, optional
        Array to write the per-example losses into (the inputs' shape, the
        result dtype, C-contiguous, not overlapping an input); saves
        allocating it on every call of a training or evaluation loop.
        ``losses`` is then ``out``.

    Returns
    -------
    PreferenceLoss
        ``loss`` (mean), ``losses``, ``chosen_rewards``, ``rejected_rewards``,
        ``margins``, ``reward_margin`` (mean margin), ``accuracy``,
        ``grad_chosen``, ``grad_rejected``.

    Raises
    ------
    ValueError
        Inputs of different shapes, empty inputs, ``beta`` not positive and
        finite (in the inputs' dtype for float32 inputs), a bad ``out``.
    TypeError
        Non-numeric input, ``grad`` not a bool.

    Examples
    --------
    >>> from fastmlops.losses import dpo_loss
    >>> res = dpo_loss([-10.0, -12.0], [-14.0, -11.0], [-11.0, -12.0], [-13.0, -12.0], beta=0.5)
    >>> round(res.loss, 6), res.accuracy, round(res.reward_margin, 3)
    (0.643669, 0.5, 0.25)
    >>> res.chosen_rewards, res.rejected_rewards
    (array([0.5, 0. ]), array([-0.5,  0.5]))
    >>> float(dpo_loss([1e4], [-1e4], [0.0], [0.0], beta=1.0).loss)
    0.0
    >>> float(dpo_loss([-1e4], [1e4], [0.0], [0.0], beta=1.0).loss)
    20000.0
    """
    beta_f = check_positive(beta, "beta")
    grad = check_bool(grad, "grad")
    flat, shape, dtype = _inputs({
        "policy_chosen_logps": policy_chosen_logps,
        "policy_rejected_logps": policy_rejected_logps,
        "reference_chosen_logps": reference_chosen_logps,
        "reference_rejected_logps": reference_rejected_logps,
    })
    from fastmlops._kernels.losses import dpo_chunk, dpo_grad_chunk

    with np.errstate(over="ignore", under="ignore"):
        b = dtype.type(beta_f)
    if not (b > 0 and np.isfinite(b)):
        raise ValueError(f"beta={beta!r} is {'too large' if b else 'too small'} for "
                         f"{dtype} inputs (it rounds to {b}); pass float64 inputs")
    losses, g, total, margin, correct = _run(dpo_chunk, dpo_grad_chunk, flat, (b,), dtype, grad,
                                             _out(out, shape, dtype, flat))
    n = losses.shape[0]
    pc, pr, rc, rr = flat

    def rewards() -> tuple[np.ndarray, np.ndarray]:
        return (b * (pc - rc)).reshape(shape), (b * (pr - rr)).reshape(shape)

    return PreferenceLoss(total / n, losses.reshape(shape) if out is None else out, margin / n,
                          correct / n, rewards, None if g is None else g.reshape(shape))


def bradley_terry_loss(chosen_rewards: ArrayLike, rejected_rewards: ArrayLike, *,
                       grad: bool = False, out: np.ndarray | None = None) -> PreferenceLoss:
    """Bradley-Terry reward-model loss ``-log sigmoid(r_w - r_l)``.

    The negative log-likelihood that the chosen response is preferred under
    the Bradley-Terry model, the loss reward models are trained with.

    Parameters
    ----------
    chosen_rewards, rejected_rewards : array_like
        Reward-model scores of the chosen / rejected responses (same shape).
    grad : bool, default False
        Also compute the gradients of the mean loss with respect to the
        rewards, ``-/+ sigmoid(-(r_w - r_l)) / n``.
    out : ndarray, optional
        Array for the per-example losses, as in :func:`dpo_loss`.

    Returns
    -------
    PreferenceLoss
        As for :func:`dpo_loss`; the rewards are the inputs.

    Examples
    --------
    >>> from fastmlops.losses import bradley_terry_loss
    >>> res = bradley_terry_loss([2.0, 0.0], [0.0, 1.0])
    >>> round(res.loss, 6), res.accuracy, res.reward_margin
    (0.720095, 0.5, 0.5)
    >>> [round(float(x), 6) for x in res.losses]
    [0.126928, 1.313262]
    """
    grad = check_bool(grad, "grad")
    flat, shape, dtype = _inputs({"chosen_rewards": chosen_rewards,
                                  "rejected_rewards": rejected_rewards})
    from fastmlops._kernels.losses import bt_chunk, bt_grad_chunk

    losses, g, total, margin, correct = _run(bt_chunk, bt_grad_chunk, flat, (), dtype, grad,
                                             _out(out, shape, dtype, flat))
    n = losses.shape[0]
    pair = (flat[0].reshape(shape), flat[1].reshape(shape))
    return PreferenceLoss(total / n, losses.reshape(shape) if out is None else out, margin / n,
                          correct / n, pair, None if g is None else g.reshape(shape))
