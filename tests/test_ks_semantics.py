"""ks_2samp's input semantics against scipy.stats.ks_2samp (issue #15 item 3).

The same grid of shapes, axes, keepdims, NaN placements and nan_policy goes to
both libraries; they must agree on the outcome: the same results (statistic
identical, p-value to 1e-10 relative), the same warning classes, the same
exception types and scipy's wording where code matches on it.  The cases
where fastmlops differs on purpose are listed in the ks_2samp docstring and
checked at the end of this file.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

import fastmlops
from fastmlops.drift import _ks as _ks_2samp
from tests.references import ks_2samp_reference

P_RTOL = 1e-10


def _run(fn, a, b, **kw):
    """('ok', result, warnings) or ('raise', exception, warnings)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = ("ok", fn(a, b, **kw))
        except Exception as exc:  # noqa: BLE001 - compared below
            out = ("raise", exc)
    return out + ([w.category for w in caught],)


def _same_values(got, want):
    for field in ("statistic", "statistic_location", "statistic_sign"):
        g, w = np.asarray(getattr(got, field)), np.asarray(getattr(want, field))
        assert g.shape == w.shape, (field, g.shape, w.shape)
        assert np.array_equal(g.astype(float), w.astype(float), equal_nan=True), field
    np.testing.assert_allclose(np.asarray(got.pvalue, float), np.asarray(want.pvalue, float),
                               rtol=P_RTOL, atol=0, equal_nan=True)


def assert_like_scipy(a, b, **kw):
    kind, res, w_res = _run(fastmlops.ks_2samp, a, b, **kw)
    kind_ref, ref, w_ref = _run(ks_2samp_reference, a, b, **kw)
    assert kind == kind_ref, (kw, res, ref)
    if kind == "raise":
        assert isinstance(res, type(ref)), (kw, res, ref)
        assert str(ref).rstrip(".") in str(res) or str(res).startswith(str(ref)[:20]), \
            (str(res), str(ref))
        return
    _same_values(res, ref)
    # scalar results: the same numpy types, as in scipy
    if np.ndim(ref.statistic) == 0:
        for field in res._fields:
            assert type(getattr(res, field)) is type(getattr(ref, field)), field
    # the same warning classes (scipy may repeat one per slice)
    assert set(w_res) == set(w_ref), (kw, w_res, w_ref)


def _data(shape, seed, nan_at=None, shift=0.0):
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(shift, 1, size=shape), 1)  # ties too
    if nan_at == "some" and x.size:
        x.flat[:: max(1, x.size // 3)] = np.nan
    elif nan_at == "slice" and x.size:  # a whole first slice along the last axis
        x[(0,) * (x.ndim - 1)] = np.nan
    return x


SHAPE_PAIRS = [
    ((7,), (5,)),
    ((7, 3), (5, 3)),
    ((3, 7), (3, 5)),
    ((7, 1), (5, 3)),       # broadcast a column against a table
    ((7,), (5, 3)),         # fewer dimensions
    ((3, 6, 1), (3, 1, 6)),  # the example
    ((2, 1, 8), (1, 4, 9)),
    ((4, 5, 6), (4, 5, 2)),
    ((5, 3), (5, 4)),       # does not broadcast along axis 0
    ((4, 0), (4, 0)),       # no tests
]
AXES = [0, 1, -1, 2, (0, 1), (0, -1), None]


@pytest.mark.parametrize("shapes", SHAPE_PAIRS, ids=[f"{a}-{b}" for a, b in SHAPE_PAIRS])
@pytest.mark.parametrize("axis", AXES, ids=[str(a) for a in AXES])
@pytest.mark.parametrize("keepdims", [False, True])
def test_shapes_axes_keepdims_like_scipy(shapes, axis, keepdims):
    a = _data(shapes[0], 1)
    b = _data(shapes[1], 2, shift=0.3)
    kw = {"axis": axis, "keepdims": keepdims}
    if any(0 in s for s in shapes) and axis is None:
        pytest.skip("empty samples: a documented difference (see test_documented_differences)")
    ndim = max(len(s) for s in shapes)
    if axis is not None and 0 in shapes[0]:
        sample_axes = axis if isinstance(axis, tuple) else (axis,)
        if any(-ndim <= x < ndim and shapes[0][x % ndim] == 0 for x in sample_axes
               if ndim == len(shapes[0])):
            pytest.skip("empty samples: a documented difference")
    assert_like_scipy(a, b, **kw)


NAN_CASES = list(itertools.product(["some", "slice", None], ["some", None],
                                   ["propagate", "omit", "raise"]))


@pytest.mark.parametrize("nan_a,nan_b,nan_policy", NAN_CASES)
@pytest.mark.parametrize("shapes,axis", [(((9,), (6,)), 0), (((9, 4), (6, 4)), 0),
                                         (((4, 9), (4, 6)), -1), (((2, 3, 9), (3, 6)), -1),
                                         (((9, 4), (6, 4)), None)])
def test_nan_policies_like_scipy(nan_a, nan_b, nan_policy, shapes, axis):
    a = _data(shapes[0], 3, nan_a)
    b = _data(shapes[1], 4, nan_b, shift=0.5)
    assert_like_scipy(a, b, axis=axis, nan_policy=nan_policy)


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int32, np.bool_])
def test_nan_results_have_scipys_scalar_type(dtype):
    a = np.array([np.nan, 1, 0, 1]).astype(np.float64)
    if np.dtype(dtype).kind == "f":
        a = a.astype(dtype)
        b = np.array([0, 1, 1], dtype=dtype)
        for policy in ("propagate",):
            assert_like_scipy(a, b, nan_policy=policy)
        assert_like_scipy(np.full(3, np.nan, dtype), b, nan_policy="omit")
    else:
        x = np.array([1, 0, 1], dtype=dtype)
        assert_like_scipy(x, x[:2])


def test_small_sample_warning_class_and_message():
    cls = _ks_2samp.SmallSampleWarning
    assert issubclass(cls, RuntimeWarning)
    from scipy.stats._axis_nan_policy import SmallSampleWarning
    assert cls is SmallSampleWarning  # scipy 1.17 has it: its very class
    with pytest.warns(SmallSampleWarning, match="After omitting NaNs, one or more sample"):
        res = fastmlops.ks_2samp([np.nan], [1.0, 2.0], nan_policy="omit")
    assert np.isnan(res.statistic)
    with pytest.warns(SmallSampleWarning, match="one or more axis-slices"):
        fastmlops.ks_2samp(np.array([[np.nan, 1.0], [np.nan, 2.0]]), np.ones((3, 2)),
                           nan_policy="omit")


def test_small_sample_warning_falls_back_without_scipys_class(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_scipy_class(name, *args, **kwargs):
        if name == "scipy.stats._axis_nan_policy":
            raise ImportError("old scipy")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(_ks_2samp, "_SMALL_SAMPLE_WARNING", None)
    monkeypatch.setattr(builtins, "__import__", no_scipy_class)
    cls = _ks_2samp._small_sample_warning()
    assert cls is _ks_2samp._FallbackSmallSampleWarning and issubclass(cls, RuntimeWarning)
    with pytest.warns(cls):
        fastmlops.ks_2samp([np.nan], [1.0], nan_policy="omit")
    monkeypatch.setattr(_ks_2samp, "_SMALL_SAMPLE_WARNING", None)


@pytest.mark.parametrize("kw", [
    {"nan_policy": "raise"},
    {"alternative": "bigger"},
    {"method": "fast"},
    {"axis": 2},
    {"axis": -3},
    {"axis": (0, 0)},
    {"axis": 1.5},
    {"axis": "0"},
])
def test_errors_like_scipy(kw):
    a = np.array([[1.0, np.nan], [2.0, 3.0], [0.5, 0.25]])
    b = np.array([[1.5, 2.0], [0.0, 1.0]])
    assert_like_scipy(a, b, **kw)


def test_messages_code_matches_on():
    with pytest.raises(ValueError, match="The input contains nan values"):
        fastmlops.ks_2samp([1.0, np.nan], [1.0], nan_policy="raise")
    with pytest.raises(ValueError, match="Array shapes are incompatible for broadcasting"):
        fastmlops.ks_2samp(np.ones((5, 3)), np.ones((5, 4)))
    with pytest.raises(np.exceptions.AxisError, match="`axis` is out of bounds"):
        fastmlops.ks_2samp(np.ones((3, 2)), np.ones((3, 2)), axis=2)
    with pytest.raises(np.exceptions.AxisError, match="`axis` must be an integer"):
        fastmlops.ks_2samp(np.ones((3, 2)), np.ones((3, 2)), axis=1.5)
    with pytest.raises(TypeError):  # and a TypeError, as before
        fastmlops.ks_2samp(np.ones((3, 2)), np.ones((3, 2)), axis=1.5)
    with pytest.raises(ValueError, match="Invalid value for alternative"):
        fastmlops.ks_2samp([1.0], [2.0], alternative="x")


def test_masked_arrays_like_scipy():
    rng = np.random.default_rng(9)
    data = np.round(rng.normal(size=(6, 10)), 1)
    mask = rng.random((6, 10)) < 0.3
    mask[2] = True  # one slice entirely masked
    a = np.ma.masked_array(data, mask)
    b = np.round(rng.normal(size=(6, 7)), 1)
    assert_like_scipy(a, b, axis=1)
    assert_like_scipy(a, b.T, axis=None)
    assert_like_scipy(a[0], b[0])
    assert_like_scipy(np.ma.masked_array([1.0, 2.0], [True, True]), [1.0])


def test_broadcast_against_one_reference_column_equals_the_loop():
    rng = np.random.default_rng(5)
    ref = rng.normal(size=(5000, 1))
    cur = rng.normal(size=(4000, 6)) + np.linspace(0, 0.2, 6)
    res = fastmlops.ks_2samp(ref, cur)
    for j in range(6):
        one = fastmlops.ks_2samp(ref[:, 0], cur[:, j])
        assert res.statistic[j] == one.statistic and res.pvalue[j] == one.pvalue


def test_documented_differences():
    """Each difference listed in the ks_2samp docstring, checked against scipy."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # empty sample: scipy NaN + warning, ours ValueError
        assert np.isnan(ks_2samp_reference([], [1.0]).statistic)
        with pytest.raises(ValueError, match="empty"):
            fastmlops.ks_2samp([], [1.0])
        # scalar sample
        ks_2samp_reference(3.0, [1.0, 2.0])
        with pytest.raises(ValueError, match="scalar"):
            fastmlops.ks_2samp(3.0, [1.0, 2.0])
        # non-numeric
        ks_2samp_reference(np.array(["a", "b"]), np.array(["a"]))
        with pytest.raises(TypeError, match="numbers"):
            fastmlops.ks_2samp(np.array(["a", "b"]), np.array(["a"]))
        # bool axis
        ks_2samp_reference(np.ones((3, 2)), np.ones((3, 2)), axis=True)
        with pytest.raises(np.exceptions.AxisError):
            fastmlops.ks_2samp(np.ones((3, 2)), np.ones((3, 2)), axis=True)
        # mode=
        from scipy import stats
        stats.ks_2samp([1.0, 2.0], [3.0], mode="exact")
        with pytest.raises(TypeError):
            fastmlops.ks_2samp([1.0, 2.0], [3.0], mode="exact")
        # float32 data whose first slice is all NaN: scipy's arrays are float32
        a = np.ones((3, 2), np.float32)
        a[:, 0] = np.nan
        ref = ks_2samp_reference(a, np.ones((2, 2), np.float32), nan_policy="omit")
        res = fastmlops.ks_2samp(a, np.ones((2, 2), np.float32), nan_policy="omit")
        assert ref.statistic.dtype == np.float32 and res.statistic.dtype == np.float64
        _same_values(res, ref)
