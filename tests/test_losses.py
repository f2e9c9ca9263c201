"""Preference losses against a direct high-precision computation (decimal)."""

from __future__ import annotations

import math
import pickle
from decimal import Decimal, localcontext

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fastmlops.losses import bradley_terry_loss, dpo_loss


def neg_log_sigmoid_exact(x: float) -> float:
    """-log sigmoid(x) = ln(1 + e^-x) with 60 significant digits."""
    with localcontext() as ctx:
        ctx.prec = 60
        u = (-Decimal(float(x))).exp()
        if u < Decimal("1e-40"):  # ln(1 + u) = u - u^2/2 + ..., beyond 60 digits of 1 + u
            return float(u - u * u / 2)
        return float((Decimal(1) + u).ln())


def _pairs(n, seed, scale=5.0):
    rng = np.random.default_rng(seed)
    pc = rng.normal(-100, scale, n)
    pr = rng.normal(-100, scale, n)
    rc = pc + rng.normal(0, 2, n)
    rr = pr + rng.normal(0, 2, n)
    return pc, pr, rc, rr


def test_softplus_matches_decimal_over_the_whole_range():
    x = np.concatenate([np.linspace(-50, 50, 2001), [-1e4, -800.0, -700.0, -37.5, -1e-12, 0.0,
                                                     1e-12, 20.0, 36.0, 37.0, 40.0, 300.0,
                                                     700.0, 707.9, 1e4],
                        np.random.default_rng(0).normal(0, 30, 500)])
    res = bradley_terry_loss(x, np.zeros_like(x))
    ref = np.array([neg_log_sigmoid_exact(v) for v in x])
    normal = ref > 1e-300
    np.testing.assert_allclose(res.losses[normal], ref[normal], rtol=2e-15, atol=0)
    # beyond x = 708, exp(-x) is subnormal: the kernel flushes it to 0
    np.testing.assert_allclose(res.losses[~normal], ref[~normal], rtol=0, atol=1e-300)
    assert res.losses[x == 1e4][0] == 0.0 and res.losses[x == -1e4][0] == 1e4


def test_dpo_matches_decimal_reference():
    pc, pr, rc, rr = _pairs(3000, 1)
    beta = 0.3
    res = dpo_loss(pc, pr, rc, rr, beta=beta)
    margin = beta * (pc - rc) - beta * (pr - rr)  # the margin as the kernel forms it
    ref = np.array([neg_log_sigmoid_exact(m) for m in margin])
    np.testing.assert_allclose(res.losses, ref, rtol=2e-15, atol=0)
    assert res.loss == pytest.approx(ref.mean(), rel=1e-14)
    # the textbook formula, with its own rounding of the margin
    direct = np.logaddexp(0, -beta * ((pc - rc) - (pr - rr)))
    np.testing.assert_allclose(res.losses, direct, rtol=1e-12)


def test_extreme_log_ratios_do_not_overflow():
    big = np.array([1e4, -1e4, 1e4, -1e4])
    zero = np.zeros(4)
    res = dpo_loss(big, -big, zero, zero, beta=1.0)
    assert res.losses.tolist() == [0.0, 2e4, 0.0, 2e4]
    for dtype in (np.float32, np.float64):
        r = bradley_terry_loss(np.array([1e4, -1e4], dtype), np.zeros(2, dtype))
        assert r.losses.tolist() == [0.0, 1e4] and r.losses.dtype == dtype
        assert np.all(np.isfinite(r.losses))


def test_logged_metrics():
    pc, pr, rc, rr = _pairs(1000, 2)
    res = dpo_loss(pc, pr, rc, rr, beta=0.1)
    cw, cl = 0.1 * (pc - rc), 0.1 * (pr - rr)
    np.testing.assert_array_equal(res.chosen_rewards, cw)
    np.testing.assert_array_equal(res.rejected_rewards, cl)
    np.testing.assert_array_equal(res.margins, cw - cl)
    assert res.reward_margin == pytest.approx(np.mean(cw - cl), rel=1e-12)
    assert res.accuracy == np.mean(cw > cl)
    assert 0.0 < res.accuracy < 1.0
    loss, losses = res
    assert loss == res.loss and losses is res.losses
    assert res.grad_chosen is None and res.grad_rejected is None
    again = pickle.loads(pickle.dumps(res))
    assert again.loss == res.loss and np.array_equal(again.chosen_rewards, cw)
    assert "accuracy=" in repr(res)


def test_bradley_terry_is_dpo_without_reference():
    rng = np.random.default_rng(3)
    rw, rl = rng.normal(size=500), rng.normal(size=500)
    bt = bradley_terry_loss(rw, rl)
    dpo = dpo_loss(rw, rl, np.zeros(500), np.zeros(500), beta=1.0)
    np.testing.assert_allclose(bt.losses, dpo.losses, rtol=1e-15)
    assert bt.accuracy == np.mean(rw > rl)
    assert bt.chosen_rewards is not None and np.array_equal(bt.rejected_rewards, rl)


def test_float32_keeps_dtype_and_other_inputs_promote():
    pc, pr, rc, rr = (a.astype(np.float32) for a in _pairs(2000, 4))
    res = dpo_loss(pc, pr, rc, rr, beta=0.1)
    assert res.losses.dtype == np.float32 and res.chosen_rewards.dtype == np.float32
    ref = dpo_loss(*(a.astype(np.float64) for a in (pc, pr, rc, rr)), beta=0.1)
    np.testing.assert_allclose(res.losses, ref.losses, rtol=2e-4, atol=1e-6)
    mixed = dpo_loss(pc, pr.astype(np.float64), rc, rr)
    assert mixed.losses.dtype == np.float64
    ints = bradley_terry_loss([3, 1], [1, 1])
    assert ints.losses.dtype == np.float64


def test_shape_is_kept():
    pc, pr, rc, rr = (a.reshape(20, 25) for a in _pairs(500, 5))
    res = dpo_loss(pc, pr, rc, rr)
    assert res.losses.shape == (20, 25) and res.chosen_rewards.shape == (20, 25)
    flat = dpo_loss(pc.ravel(), pr.ravel(), rc.ravel(), rr.ravel())
    np.testing.assert_array_equal(res.losses.ravel(), flat.losses)


def test_chunks_and_threads_agree_with_one_block():
    # Large enough to be split over threads and over many kernel blocks.
    pc, pr, rc, rr = _pairs(1_200_007, 6)
    res = dpo_loss(pc, pr, rc, rr, beta=0.2)
    direct = np.logaddexp(0, -(0.2 * (pc - rc) - 0.2 * (pr - rr)))
    np.testing.assert_allclose(res.losses, direct, rtol=1e-13)
    assert res.loss == pytest.approx(direct.mean(), rel=1e-12)
    assert res.accuracy == np.mean(0.2 * (pc - rc) > 0.2 * (pr - rr))


def _mean_dpo(pc, pr, rc, rr, beta):
    return float(np.mean(np.logaddexp(0, -(beta * (pc - rc) - beta * (pr - rr)))))


def test_dpo_gradients_match_finite_differences():
    pc, pr, rc, rr = _pairs(40, 7, scale=3.0)
    beta = 0.5
    res = dpo_loss(pc, pr, rc, rr, beta=beta, grad=True)
    h = 1e-5
    for which, grad in ((0, res.grad_chosen), (1, res.grad_rejected)):
        for i in range(0, 40, 3):
            up = [pc.copy(), pr.copy()]
            down = [pc.copy(), pr.copy()]
            up[which][i] += h
            down[which][i] -= h
            fd = (_mean_dpo(up[0], up[1], rc, rr, beta)
                  - _mean_dpo(down[0], down[1], rc, rr, beta)) / (2 * h)
            assert grad[i] == pytest.approx(fd, rel=1e-5, abs=1e-10)
    np.testing.assert_allclose(res.grad_chosen, -res.grad_rejected)
    assert res.loss == dpo_loss(pc, pr, rc, rr, beta=beta).loss


def test_gradients_large_logits_and_float32():
    x = np.array([-1e4, -30.0, 0.0, 30.0, 1e4])
    res = bradley_terry_loss(x, np.zeros(5), grad=True)
    # d/dr_w mean(-log sigmoid(r_w - r_l)) = -sigmoid(-(r_w - r_l)) / n
    from scipy.special import expit

    expected = -expit(-x) / 5
    np.testing.assert_allclose(res.grad_chosen, expected, rtol=1e-14, atol=1e-300)
    r32 = bradley_terry_loss(x.astype(np.float32), np.zeros(5, np.float32), grad=True)
    assert r32.grad_chosen.dtype == np.float32
    np.testing.assert_allclose(r32.grad_chosen, expected, rtol=1e-6, atol=1e-30)


def test_nan_propagates():
    res = bradley_terry_loss([np.nan, 1.0], [0.0, 0.0])
    assert np.isnan(res.losses[0]) and np.isfinite(res.losses[1]) and np.isnan(res.loss)


@pytest.mark.parametrize("call,exc,match", [
    (lambda: dpo_loss([1.0, 2.0], [1.0], [1.0, 2.0], [1.0, 2.0]), ValueError, "same shape"),
    (lambda: dpo_loss([], [], [], []), ValueError, "non-empty"),
    (lambda: dpo_loss(1.0, 1.0, 1.0, 1.0), ValueError, "wrap them in a list"),
    (lambda: dpo_loss([1.0], [1.0], [1.0], [1.0], beta=0.0), ValueError, "beta"),
    (lambda: dpo_loss([1.0], [1.0], [1.0], [1.0], beta="0.1"), TypeError, "beta"),
    (lambda: dpo_loss(["a"], [1.0], [1.0], [1.0]), TypeError, "policy_chosen_logps"),
    (lambda: bradley_terry_loss([1.0, 2.0], [[1.0, 2.0]]), ValueError, "same shape"),
])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_out_array_is_filled_and_checked():
    pc, pr, rc, rr = _pairs(1000, 8)
    out = np.full(1000, -1.0)
    res = dpo_loss(pc, pr, rc, rr, out=out)
    assert np.shares_memory(res.losses, out)
    np.testing.assert_array_equal(out, dpo_loss(pc, pr, rc, rr).losses)
    out2 = np.empty((2, 3), np.float32)
    r = bradley_terry_loss(np.ones((2, 3), np.float32), np.zeros((2, 3), np.float32), out=out2)
    assert np.shares_memory(r.losses, out2) and r.losses.shape == (2, 3)
    for bad in (np.empty(999), np.empty(1000, np.float32), np.empty(2000)[::2], [0.0] * 1000):
        with pytest.raises(ValueError, match="out must be"):
            dpo_loss(pc, pr, rc, rr, out=bad)


def test_recycled_output_buffers_are_never_shared_with_a_live_result():
    """Large outputs come from recycled buffers: a result, or any view of it,
    that is still alive keeps its memory out of reuse; once dropped, the
    buffer is reused and the new result is still exact."""
    from fastmlops import losses as L

    def addr(a):
        return a.__array_interface__["data"][0]

    n = 1 << 20  # 8 MiB of float64: recycled
    rng = np.random.default_rng(5)
    args = [rng.normal(-40, 5, n) for _ in range(4)]
    L.release_buffers()
    first = dpo_loss(*args)
    expected = first.losses.copy()
    second = dpo_loss(*args, grad=True)
    grad = second.grad_rejected  # the stored gradient (grad_chosen is a new array)
    held = {addr(first.losses), addr(second.losses), addr(grad)}
    assert len(held) == 3  # three live arrays, three buffers
    view = first.losses[5:9]
    first_addr = addr(first.losses)
    del first
    third = dpo_loss(*args)
    assert addr(third.losses) not in held  # the view keeps first's buffer
    third_addr = addr(third.losses)
    del view, third
    fourth = dpo_loss(*args)
    assert addr(fourth.losses) in {first_addr, third_addr}  # a free buffer, reused
    np.testing.assert_array_equal(fourth.losses, expected)
    fourth.losses[:] = -1.0  # writing a result never touches another live one
    np.testing.assert_array_equal(second.losses, expected)
    L.release_buffers()
    assert L._pool == []


def test_out_of_an_ndarray_subclass_is_written_in_bounds():
    """np.matrix keeps 2-D on reshape(-1): the kernel used to get a (1, n)
    matrix and wrote a whole row per example, far past the end of ``out``
    (heap corruption)."""
    n = 300
    backing = np.full(n * n, 7.0)
    out = backing[:n].reshape(1, n).view(np.matrix)
    rw = np.linspace(-5, 5, n).reshape(1, n)
    res = bradley_terry_loss(rw, np.zeros((1, n)), out=out)
    assert (backing[n:] == 7.0).all()  # nothing written past out
    np.testing.assert_allclose(np.asarray(out).ravel(), np.logaddexp(0, -rw.ravel()),
                               rtol=1e-14)
    assert res.losses is out


def test_losses_is_out():
    pc, pr, rc, rr = _pairs(50, 9)
    out = np.empty(50)
    assert dpo_loss(pc, pr, rc, rr, out=out).losses is out
    out2 = np.empty((2, 3))
    assert bradley_terry_loss(np.ones((2, 3)), np.zeros((2, 3)), out=out2).losses is out2


def test_out_sharing_memory_with_an_input_is_rejected():
    """The rewards and margins are read from the inputs after the kernel has
    written the losses: out=input gave the losses back as rewards."""
    x = np.array([1.0, 2.0, 3.0])
    for call in (lambda: bradley_terry_loss(x, np.zeros(3), out=x),
                 lambda: bradley_terry_loss(np.zeros(3), x, out=x),
                 lambda: dpo_loss(x, np.zeros(3), np.zeros(3), np.zeros(3), out=x),
                 lambda: dpo_loss(np.zeros(3), np.zeros(3), np.zeros(3), x, out=x)):
        with pytest.raises(ValueError, match="share memory"):
            call()
    assert x.tolist() == [1.0, 2.0, 3.0]
    # an input that is converted (copied) first does not alias out
    x32 = x.astype(np.float32)
    res = bradley_terry_loss(x, x32.astype(np.float64) * 0, out=np.empty(3))
    assert res.chosen_rewards.tolist() == [1.0, 2.0, 3.0]


def test_beta_that_float32_cannot_hold_is_rejected():
    one = np.ones(3, np.float32)
    zero = np.zeros(3, np.float32)
    for beta in (1e39, 1e300, 1e-46, 1e-50):
        with pytest.raises(ValueError, match="float32"):
            dpo_loss(one, zero, zero, zero, beta=beta)
        # float64 inputs hold it
        assert np.isfinite(dpo_loss(one.astype(float), zero, zero, zero, beta=beta).loss)
    with pytest.raises(ValueError, match="beta"):
        dpo_loss([1.0], [0.0], [0.0], [0.0], beta=2 ** 2000)


@pytest.mark.parametrize("grad", ["no", 1, None, 0.0, np.array(True)])
def test_grad_must_be_a_bool(grad):
    with pytest.raises(TypeError, match="grad must be True or False"):
        bradley_terry_loss([1.0], [0.0], grad=grad)
    with pytest.raises(TypeError, match="grad must be True or False"):
        dpo_loss([1.0], [0.0], [0.0], [0.0], grad=grad)
    assert bradley_terry_loss([1.0], [0.0], grad=np.True_).grad_chosen is not None


def test_buffer_pool_threshold_holds_when_the_interpreter_counts_fewer_refs(monkeypatch):
    """Python 3.14 borrows some references that earlier versions took, so
    ``sys.getrefcount`` of a pooled buffer can read one lower.  With a
    hard-coded "free" count a buffer a live result still used then looked free
    and was handed out again.  Emulate such an interpreter: the threshold,
    measured at import, must still keep a live result's buffer out of reuse."""
    import sys
    import types

    from fastmlops import losses as L

    real = sys.getrefcount

    def borrowing_getrefcount(obj):
        # minus this function's own reference, and one temporary borrowed
        return real(obj) - 2

    fake_sys = types.SimpleNamespace(getrefcount=borrowing_getrefcount)
    monkeypatch.setattr(L, "sys", fake_sys)
    if hasattr(L, "_refs"):  # re-measure as at import, under the emulated interpreter
        monkeypatch.setattr(L, "_FREE_REFS", L._refs([np.empty(1)], 0))
    n = 1 << 20
    rng = np.random.default_rng(12)
    args = [rng.normal(-40, 5, n) for _ in range(4)]
    L.release_buffers()
    try:
        first = dpo_loss(*args)
        expected = first.losses.copy()
        second = dpo_loss(*[a * 2 for a in args])
        assert not np.shares_memory(first.losses, second.losses)
        np.testing.assert_array_equal(first.losses, expected)
        del second
        third = dpo_loss(*[a * 3 for a in args])  # the second's buffer, now free
        assert not np.shares_memory(first.losses, third.losses)
    finally:
        L.release_buffers()


# ------------------------------------------------------------ property tests
_ELEMS = st.one_of(st.floats(-1e3, 1e3), st.sampled_from(
    [0.0, -0.0, 1.0, np.inf, -np.inf, np.nan, 1e308, -1e308, 5e-324, 710.0, -710.0]))


@settings(max_examples=150, deadline=None)
@given(data=st.data(), dtype=st.sampled_from([np.float64, np.float32]),
       shape=hnp.array_shapes(min_dims=1, max_dims=2, max_side=40),
       beta=st.sampled_from([1.0, 0.1, 3.5]), grad=st.booleans())
def test_losses_match_numpy_on_any_input(data, dtype, shape, beta, grad):
    """Random shapes, NaN, +-inf, huge and tiny magnitudes, ties and constant
    input against np.logaddexp / scipy's expit on the margin as documented
    (formed in the input dtype)."""
    from scipy.special import expit

    def arr():
        values = data.draw(hnp.arrays(np.float64, shape, elements=_ELEMS))
        with np.errstate(over="ignore"):  # 1e308 -> inf in float32
            return values.astype(dtype)

    pc, pr, rc, rr = arr(), arr(), arr(), arr()
    with np.errstate(all="ignore"):
        b = dtype(beta)
        cw, cl = b * (pc - rc), b * (pr - rr)
        margin = (cw - cl).astype(np.float64)
        ref = np.logaddexp(0.0, -margin)
        ref_grad = (beta if dtype is np.float64 else float(b)) * expit(-margin) / margin.size
    res = dpo_loss(pc, pr, rc, rr, beta=beta, grad=grad)
    bt = bradley_terry_loss(pc, rc, grad=grad)
    with np.errstate(all="ignore"):
        bt_margin = (pc - rc).astype(np.float64)
        bt_ref = np.logaddexp(0.0, -bt_margin)
    for r, expected, m, c, l in ((res, ref, margin, cw, cl), (bt, bt_ref, bt_margin, pc, rc)):
        assert r.losses.shape == shape and r.losses.dtype == dtype
        rtol = 1e-13 if dtype is np.float64 else 2e-7
        np.testing.assert_allclose(r.losses, expected.astype(dtype), rtol=rtol, atol=1e-300)
        assert r.accuracy == np.mean(c > l)
        if np.isnan(m).any():
            assert math.isnan(r.loss) and math.isnan(r.reward_margin)
    if grad:
        np.testing.assert_allclose(res.grad_rejected, ref_grad.astype(dtype),
                                   rtol=1e-12 if dtype is np.float64 else 2e-6, atol=1e-300)
        np.testing.assert_array_equal(res.grad_chosen, -res.grad_rejected)
    else:
        assert res.grad_chosen is None
