"""Finite-n two-sided Kolmogorov survival function, ``P(D_n >= d)``.

:func:`kstwo_sf` reproduces ``scipy.stats.kstwo.sf(d, n)`` (scipy's
``scipy/stats/_ksstats.py::_kolmogn`` with ``cdf=False``) with the same choice
of method for every ``(n, d)`` (Simard and L'Ecuyer 2011).  Measured agreement
is 1e-13 relative or better, except Pomeranz's branch (SF = 1 - CDF with the
CDF near 1), up to ~3e-12:

* ``t = n*d <= 1`` and ``t >= n - 1``: Ruben-Gambino closed forms;
* ``d >= 0.5``: ``2 * smirnov(n, d)`` (the one-sided tail, doubled; exact here);
* ``n <= 140``: Durbin's matrix (``n d^2 <= 0.754693``), Pomeranz's recursion
  (``<= 4``), else ``2 * smirnov``;
* ``n > 140``: 0 for ``n d^2 >= 370``, ``2 * smirnov`` for ``n d^2 >= 2.2``,
  otherwise ``1 - CDF`` with the CDF from Durbin's matrix
  (``n <= 100000`` and ``n d^1.5 <= 1.4``) or the Pelz-Good expansion.

``smirnov(n, d)`` is scipy.special's one-sided Smirnov survival function,
including its shortcuts (0 when ``-2 n d^2 < MINLOG``, and the approximation
``exp(-(6nd+1)^2 / (18n))`` for ``n > 1e6``).  In the general case it is the
Birnbaum-Tingey sum

    d * sum_{j=0}^{J} C(n,j) (1-d-j/n)^(n-j) (d+j/n)^(j-1),   J = ceil(n(1-d)) - 1,

whose terms are ``dbinom(j; n, p_j) / p_j`` with ``p_j = d + j/n``.  scipy adds
all O(n) terms in double-double arithmetic (about a second at ``n = 1e6``).
Here each term comes from Loader's saddle-point form of the binomial
probability (``stirlerr`` and ``bd0``: relative error ~1e-15 for any ``n``),
and the sum is taken over every ``h``-th term only, times ``h``: the terms are
samples of a smooth bell-shaped function of ``j``, and for such functions the
strided sum equals the full sum up to ``exp(-2 pi^2 (sigma/h)^2)`` relative,
where ``sigma`` is the local width of the bell (the trapezoid rule's
exponential accuracy, by Poisson summation).  ``h`` is chosen from the local
width and relative size of the terms along the bell (see ``_smirnov_sf``) with
a safety factor, and is 1 (every term) whenever the bell is narrow or reaches
an end of the range.  At most a few thousand terms are evaluated for any ``n``
(tens of microseconds at ``n = 1e6``).

Durbin's matrix method needs ``e_k' H^n e_k`` for an ``m x m`` matrix ``H``
(``m = 2 ceil(n d) - 1 <= ~120``).  For small matrices or wide bands this is
computed by repeated squaring (with power-of-two rescaling, as scipy does).
When ``n > 140`` and ``sqrt(n) d <= 0.4`` the Perron eigenvalue dominates
(the other eigenvalues change the CDF by at most ~2e-12 relative, measured, and
the CDF is below 0.08 there, so the SF moves by < 1e-13), and ``H^n`` is
replaced by ``lambda^n`` times the Perron projector, found by Noda's inverse
iteration in O(m^2) per step (microseconds instead of ~20 ``m x m`` matrix
products).  ``H`` is persymmetric, so its left Perron vector is the reverse of
its right one.

All kernels are declared with :func:`fastmlops._kernels._jit.kernel`; they
compile lazily and are callable from Python and from other kernels.
"""

from __future__ import annotations

import math

import numpy as np

from fastmlops._kernels._jit import kernel

# ----------------------------------------------------------------- constants
_LN2_HI = 6.93147180369123816490e-01  # ln 2 split: _LN2_HI has 21 trailing zero bits
_LN2_LO = 1.90821492927058770002e-10
_HALF_LOG_2PI = 0.9189385332046728  # log(sqrt(2 pi))
_SQRT_2PI = 2.5066282746310002
_PI = math.pi
_MINLOG = -7.08396418532264106224e2  # log(2**-1022), scipy's cutoff for smirnov
_SMIRNOV_MAX_COMPUTE_N = 1000000  # scipy approximates smirnov above this n
_TWO128 = 2.0**128
_TWOM128 = 2.0**-128

# stirlerr(k) = log(k!) - (k + 1/2) log(k) + k - log(sqrt(2 pi)), k = 0..30,
# computed with 50-digit decimal arithmetic.
_STIRLERR = np.array(
    [
        0.0,
        0.08106146679532726,
        0.0413406959554093,
        0.02767792568499834,
        0.020790672103765093,
        0.016644691189821193,
        0.013876128823070748,
        0.01189670994589177,
        0.010411265261972096,
        0.009255462182712733,
        0.00833056343336287,
        0.007573675487951841,
        0.00694284010720953,
        0.006408994188004207,
        0.0059513701127588475,
        0.005554733551962801,
        0.0052076559196096404,
        0.004901395948434738,
        0.004629153749334028,
        0.004385560249232324,
        0.004166319691996922,
        0.00396795421864086,
        0.0037876180684444346,
        0.0036229602246830948,
        0.003472021382978767,
        0.003333155636728093,
        0.003204970228055038,
        0.0030862786826087773,
        0.002976063983550409,
        0.0028734493623524663,
        0.0027776749297526936,
    ]
)

# Strided Smirnov sum: safety factor on the stride (see _smirnov_sf), and the
# relative size below which the walk out from the peak stops.
_STRIDE_K = 1.5
_STOP_REL = 1e-22

# Durbin matrix: use the Perron-eigenvalue form when n > 140 and sqrt(n) d <= this.
_EIGEN_MAX_Z = 0.4


# ------------------------------------------------------------ basic pieces
@kernel("f8(f8)")
def _stirlerr(k):
    """log(k!) - (k+1/2) log k + k - log sqrt(2 pi) for integer-valued k >= 0."""
    if k <= 30.0:
        return _STIRLERR[int(k)]
    r = 1.0 / (k * k)
    if k > 500.0:
        return (1.0 / 12.0 - (1.0 / 360.0) * r) / k
    if k > 80.0:
        return (1.0 / 12.0 - (1.0 / 360.0 - (1.0 / 1260.0) * r) * r) / k
    return (1.0 / 12.0 - (1.0 / 360.0 - (1.0 / 1260.0 - (1.0 / 1680.0 - (1.0 / 1188.0) * r) * r) * r) * r) / k


@kernel("f8(f8, f8, f8)")
def _bd0(x, mu, diff):
    """Loader's deviance term x log(x/mu) + mu - x, given diff = x - mu exactly."""
    tot = x + mu
    if abs(diff) < 0.25 * tot:
        v = diff / tot
        s = diff * v
        ej = 2.0 * x * v
        v2 = v * v
        k = 1
        while k < 200:
            ej *= v2
            s1 = s + ej / (2 * k + 1)
            if s1 == s:
                return s1
            s = s1
            k += 1
        return s
    return x * math.log1p(diff / mu) - diff


@kernel("f8(i8)")
def _log_factorial_over_power(n):
    """log(n! / n^n)."""
    fn = float(n)
    return _HALF_LOG_2PI + 0.5 * math.log(fn) - fn + _stirlerr(fn)


@kernel("f8(f8, i8, i8)")
def _exp_shifted(y, m, e2):
    """exp(y - m + e2 ln 2) for integers m, e2 (|m|, |e2| < 2**20) with y moderate:
    e2 * _LN2_HI - m is exact, so large m and e2 cancel without rounding."""
    return math.exp(y + ((e2 * _LN2_HI - m) + e2 * _LN2_LO))


@kernel("f8(f8)")
def _clip01(p):
    if p < 0.0:
        return 0.0
    if p > 1.0:
        return 1.0
    return p


@kernel("void(f8, f8[::1], f8[::1])")
def _axpy(a, xs, ys):
    """ys += a * xs (equal lengths)."""
    for i in range(ys.shape[0]):
        ys[i] += a * xs[i]


# ------------------------------------------------------------ smirnov(n, x)
@kernel("f8(i8, f8, f8, f8, i8)")
def _smirnov_log_term(n, x, c, clo, j):
    """log of the j-th Birnbaum-Tingey term C(n,j) q^(n-j) p^(j-1), p = x+j/n,
    q = 1-p, for 0 <= j with q > 0.  c + clo = n*x (double-double)."""
    fn = float(n)
    if j == 0:
        return fn * math.log1p(-x) - math.log(x)
    a = float(j)
    b = float(n - j)
    mu1 = a + c  # n p
    mu2 = (b - c) - clo  # n q
    e = _stirlerr(fn) - _stirlerr(a) - _stirlerr(b) - _bd0(a, mu1, -c) - _bd0(b, mu2, c)
    return e + math.log(fn / mu1 * math.sqrt(fn / (2.0 * _PI * a * b)))


@kernel("f8(f8, f8, f8, f8)")
def _smirnov_sigma(fn, c, t, jmax):
    """Local width 1/sqrt(-g'') of the log-term g(j) at j = t (2nd derivative
    of the continuous extension, digamma' approximated by 1/(z+1/2))."""
    qn = fn - t - c
    pn = t + c
    if t < 1.0 or t > jmax - 1.0 or qn <= 0.0:
        return 0.0
    g2 = -1.0 / (t + 0.5) - 1.0 / (fn - t + 0.5) + 1.0 / qn - c / (qn * qn) + 1.0 / pn + (c + 1.0) / (pn * pn)
    if g2 >= 0.0:
        return 0.0
    return 1.0 / math.sqrt(-g2)


@kernel("f8(f8, f8, f8, f8, f8)")
def _smirnov_stride(fn, c, t, jmax, logrel):
    """Largest stride allowed by the term at j = t of log relative size logrel."""
    sig = _smirnov_sigma(fn, c, t, jmax)
    need = (logrel + 46.0) / (2.0 * _PI * _PI)
    if need <= 0.0:
        return math.inf
    return sig / (_STRIDE_K * math.sqrt(need))


@kernel("f8(i8, f8, f8, f8, i8, i8, f8, i8)")
def _smirnov_walk(n, x, c, clo, jmax, jpeak, ref, h):
    """sum_j exp(logterm(j) - ref) over j = jpeak + k h in [0, jmax], walking out
    from jpeak until terms are negligible; returns h * sum, or -1.0 if h > 1
    and the walk reached an end of the range with terms not yet negligible."""
    s = 1.0  # the peak term (exp(0) by construction of ref)
    comp = 0.0
    for direction in (1, -1):
        j = jpeak + direction * h
        done = False
        while 0 <= j <= jmax:
            w = math.exp(_smirnov_log_term(n, x, c, clo, j) - ref)
            tsum = s + w  # Knuth's TwoSum: comp collects the rounding errors
            bv = tsum - s
            comp += (s - (tsum - bv)) + (w - bv)
            s = tsum
            if w < _STOP_REL * s:
                done = True
                break
            j += direction * h
        if not done and h > 1:
            return -1.0
    return h * (s + comp)


@kernel("f8(i8, f8)")
def _smirnov_sf(n, x):
    """scipy.special.smirnov(n, x): one-sided Kolmogorov-Smirnov P(D_n^+ >= x)."""
    if not (n > 0 and x >= 0.0 and x <= 1.0):
        return math.nan
    if n == 1:
        return 1.0 - x
    if x == 0.0:
        return 1.0
    if x == 1.0:
        return 0.0
    fn = float(n)
    # floor(n x) and its remainder, exactly (n x = c + clo as double-double).
    c = fn * x
    # Dekker's exact product n*x = c + clo (Veltkamp split of x; n < 2^53 exact).
    split = 134217729.0  # 2^27 + 1
    tx = split * x
    xh = tx - (tx - x)
    xl = x - xh
    tn = split * fn
    nh = tn - (tn - fn)
    nl = fn - nh
    clo = ((nh * xh - c) + nh * xl + nl * xh) + nl * xl
    fl = math.floor(c)
    if fl == c:
        if clo < 0.0:
            nxfl = int(c) - 1
            alpha = 1.0 + clo
        else:
            nxfl = int(c)
            alpha = clo
    else:
        nxfl = int(fl)
        alpha = (c - fl) + clo
    if alpha >= 1.0:
        nxfl += 1
        alpha = 0.0
    # x <= 1/n
    if nxfl == 0 or (nxfl == 1 and alpha == 0.0):
        return 1.0 - x * math.exp((fn - 1.0) * math.log1p(x))
    # the tail underflows
    if float(-2 * n) * x * x < _MINLOG:
        return 0.0
    # x >= 1 - 1/n
    if nxfl >= n - 1:
        return math.pow(1.0 - x, fn)
    if n > _SMIRNOV_MAX_COMPUTE_N:
        a = 6.0 * fn * x + 1.0
        logp = -(a * a) / 18.0 / fn
        if logp < -0.6931471805599453:
            return math.exp(logp)
        return 1.0 - (-math.expm1(logp))
    jmax = n - nxfl - 1  # last j with n - j - n x > 0
    if jmax < 0:
        return 0.0
    # Peak of the (unimodal) terms: ternary search on integers.
    lo = 0
    hi = jmax
    while hi - lo > 2:
        m1 = lo + (hi - lo) // 3
        m2 = hi - (hi - lo) // 3
        if _smirnov_log_term(n, x, c, clo, m1) < _smirnov_log_term(n, x, c, clo, m2):
            lo = m1 + 1
        else:
            hi = m2 - 1
    jpeak = lo
    ref = _smirnov_log_term(n, x, c, clo, lo)
    for jj in range(lo + 1, hi + 1):
        v = _smirnov_log_term(n, x, c, clo, jj)
        if v > ref:
            ref = v
            jpeak = jj
    # Stride h: the strided sum's relative error from a stretch of terms of
    # relative size r and local width sigma is about r exp(-2 pi^2 (sigma/h)^2),
    # so require sigma/h >= _STRIDE_K sqrt((log r + 46) / (2 pi^2)) at every
    # term above exp(-46) ~ 1e-20 of the peak (_STRIDE_K: safety factor).
    # Coarse walk out from the peak in steps of half a local width.
    fj = float(jmax)
    hbest = _smirnov_stride(fn, c, float(jpeak), fj, 0.0)
    if hbest >= 2.0:
        for direction in (1, -1):
            t = float(jpeak)
            st = _smirnov_sigma(fn, c, t, fj)
            while hbest >= 2.0:
                t += direction * max(1.0, 0.5 * st)
                if t < 0.0 or t > fj:
                    hbest = 1.0  # the bell reaches an end of the range
                    break
                lr = _smirnov_log_term(n, x, c, clo, int(t)) - ref
                if lr < -46.0:
                    break
                st = _smirnov_sigma(fn, c, t, fj)
                hbest = min(hbest, _smirnov_stride(fn, c, t, fj, lr))
    h = max(1, int(hbest))
    total = _smirnov_walk(n, x, c, clo, jmax, jpeak, ref, h)
    if total < 0.0:
        total = _smirnov_walk(n, x, c, clo, jmax, jpeak, ref, 1)
    sf = x * total * math.exp(ref)
    return _clip01(sf)


# ------------------------------------------------------------ Durbin matrix
@kernel("f8[:, ::1](i8, f8)")
def _durbin_matrix(k, h):
    """Durbin / Marsaglia-Tsang-Wang matrix H (m = 2k-1) for n d = k - h."""
    m = 2 * k - 1
    hm = np.zeros((m, m))
    w = np.empty(m)
    v = np.empty(m)
    fac = 1.0
    for j in range(1, m + 1):
        w[j - 1] = fac  # 1/(j-1)!
        fac /= j
        v[j - 1] = (1.0 - math.pow(h, float(j))) * fac  # (1 - h^j)/j!
    tt = math.pow(max(2.0 * h - 1.0, 0.0), float(m)) - 2.0 * math.pow(h, float(m))
    v[m - 1] = (1.0 + tt) * fac
    for col in range(1, m):
        for row in range(col - 1, m):
            hm[row, col] = w[row - col + 1]
    for row in range(m):
        hm[row, 0] = v[row]
    for col in range(m):
        hm[m - 1, col] = v[m - 1 - col]
    return hm


@kernel("f8(i8, f8)")
def _dmtw_cdf_power(n, d):
    """P(D_n < d) = n!/n^n (H^n)[k-1, k-1] by repeated squaring."""
    nd = n * d
    k = int(math.ceil(nd))
    h = k - nd
    m = 2 * k - 1
    c = k - 1
    p = _durbin_matrix(k, h)
    tmp = np.empty((m, m))
    r = np.zeros(m)
    rtmp = np.empty(m)
    r[c] = 1.0
    r_exp = 0
    p_exp = 0
    nn = n
    while True:
        if nn & 1:
            # r <- r P
            rtmp[:] = 0.0
            for i in range(m):
                if r[i] != 0.0:
                    _axpy(r[i], p[i], rtmp)
            rmax = 0.0
            for col in range(m):
                r[col] = rtmp[col]
                if abs(rtmp[col]) > rmax:
                    rmax = abs(rtmp[col])
            r_exp += p_exp
            if rmax > _TWO128:
                for col in range(m):
                    r[col] *= _TWOM128
                r_exp += 128
            elif 0.0 < rmax < _TWOM128:
                for col in range(m):
                    r[col] *= _TWO128
                r_exp -= 128
        nn >>= 1
        if nn == 0:
            break
        # p <- p p
        tmp[:, :] = 0.0
        for i in range(m):
            for kk in range(m):
                a = p[i, kk]
                if a != 0.0:
                    _axpy(a, p[kk], tmp[i])
        pmax = 0.0
        for i in range(m):
            for col in range(m):
                p[i, col] = tmp[i, col]
                if abs(tmp[i, col]) > pmax:
                    pmax = abs(tmp[i, col])
        p_exp *= 2
        if pmax > _TWO128:
            for i in range(m):
                for col in range(m):
                    p[i, col] *= _TWOM128
            p_exp += 128
    val = r[c]
    if val <= 0.0:
        return 0.0
    # n!/n^n * val * 2^r_exp, with n!/n^n = sqrt(2 pi n) exp(stirlerr(n) - n)
    fn = float(n)
    y = math.log(val) + _HALF_LOG_2PI + 0.5 * math.log(fn) + _stirlerr(fn)
    return _exp_shifted(y, n, r_exp)


@kernel("f8(i8, f8)")
def _dmtw_cdf_eigen(n, d):
    """P(D_n < d) from the Perron eigenpair of H; -1.0 if the iteration fails."""
    nd = n * d
    k = int(math.ceil(nd))
    h = k - nd
    m = 2 * k - 1
    c = k - 1
    hm = _durbin_matrix(k, h)
    # a = H^T is upper Hessenberg; its Perron vector y is H's left Perron vector.
    y = np.ones(m)
    ay = np.empty(m)
    b = np.empty((m, m))
    z = np.empty(m)
    mu = 0.0
    lam_lo = 0.0
    converged = False
    for _ in range(60):
        # Collatz-Wielandt bounds: min(Ay/y) <= lambda <= max(Ay/y).
        lam_hi = 0.0
        lam_lo = math.inf
        ay[:] = 0.0
        for r in range(m):
            _axpy(y[r], hm[r], ay)
        for i in range(m):
            ratio = ay[i] / y[i]
            if ratio > lam_hi:
                lam_hi = ratio
            if ratio < lam_lo:
                lam_lo = ratio
        if lam_hi - lam_lo <= 1e-14 * lam_hi:
            converged = True
            break
        # Noda step: solve (mu I - H^T) z = y with mu just above the upper bound.
        # mu I - H^T is a nonsingular M-matrix: elimination without pivoting
        # is stable and keeps z > 0.
        mu = lam_hi * (1.0 + 1e-13)
        for i in range(m):
            for col in range(m):
                b[i, col] = -hm[col, i]
            b[i, i] += mu
            z[i] = y[i]
        for i in range(m - 1):
            piv = b[i, i]
            if piv <= 0.0:
                return -1.0
            f = b[i + 1, i] / piv
            if f != 0.0:
                _axpy(-f, b[i, i + 1 :], b[i + 1, i + 1 :])
                z[i + 1] -= f * z[i]
        for i in range(m - 1, -1, -1):
            acc = z[i]
            for col in range(i + 1, m):
                acc -= b[i, col] * z[col]
            if b[i, i] <= 0.0:
                return -1.0
            z[i] = acc / b[i, i]
        zmax = 0.0
        for i in range(m):
            if not z[i] > 0.0:
                return -1.0
            if z[i] > zmax:
                zmax = z[i]
        for i in range(m):
            y[i] = z[i] / zmax
    if not converged:
        return -1.0
    # Two-sided Rayleigh quotient with the right Perron vector u = reverse(y).
    num = 0.0
    den = 0.0
    for i in range(m):
        # (y^T H)_i = ay[i];  u_i = y[m-1-i]
        num += ay[i] * y[m - 1 - i]
        den += y[i] * y[m - 1 - i]
    lam = num / den
    # (H^n)[c, c] ~ lam^n * y_c u_c / (y . u), with u_c = y_c.
    logp = (
        float(n) * (math.log(lam) - 1.0)
        + _HALF_LOG_2PI
        + 0.5 * math.log(float(n))
        + _stirlerr(float(n))
        + 2.0 * math.log(y[c])
        - math.log(den)
    )
    return math.exp(logp)


@kernel("f8(i8, f8)")
def _dmtw_cdf(n, d):
    """scipy's _kolmogn_DMTW CDF, for 0 < d < 1."""
    if d >= 1.0:
        return 1.0
    if n * d <= 0.5:
        return 0.0
    if n > 140 and math.sqrt(float(n)) * d <= _EIGEN_MAX_Z:
        p = _dmtw_cdf_eigen(n, d)
        if p >= 0.0:
            return p
    return _dmtw_cdf_power(n, d)


# ------------------------------------------------------------ Pomeranz
@kernel("UniTuple(i8, 2)(i8, i8, i8, i8, i8)")
def _pomeranz_j1j2(i, n, ll, ceilf, roundf):
    if i == 0:
        j1 = -ll - ceilf - 1
        j2 = ll + ceilf - 1
    else:
        half = (i + 1) // 2
        if (i + 1) % 2 == 0:
            if half == n + 1:
                j1 = n - ll - ceilf - 1
                j2 = n + ll + ceilf - 1
            else:
                j1 = half - 1 - ll - roundf - 1
                j2 = half + ll - 1 + ceilf - 1
        else:
            j1 = half - 1 - ll - 1
            j2 = half + ll + roundf - 1
    return max(j1 + 2, 0), min(j2, n)


@kernel("f8(i8, f8)")
def _pomeranz_cdf(n, x):
    """P(D_n < x) by Pomeranz's recursion (scipy's _kolmogn_Pomeranz)."""
    t = n * x
    ll = int(math.floor(t))
    f = t - ll
    g = min(f, 1.0 - f)
    ceilf = 1 if f > 0 else 0
    roundf = 1 if f > 0.5 else 0
    npw = 2 * (ll + 1)
    gp = np.empty(npw)
    g2p = np.empty(npw)
    g12p = np.empty(npw)
    gp[0] = 1.0
    g2p[0] = 1.0
    g12p[0] = 1.0
    a1 = g / n
    a2 = 2.0 * g / n
    a3 = (1.0 - 2.0 * g) / n
    for mm in range(1, npw):
        gp[mm] = gp[mm - 1] * a1 / mm
        g2p[mm] = g2p[mm - 1] * a2 / mm
        g12p[mm] = g12p[mm - 1] * a3 / mm
    v0 = np.zeros(npw)
    v1 = np.zeros(npw)
    v1[0] = 1.0
    v0s = 0
    v1s = 0
    expnt = 0
    j1, j2 = _pomeranz_j1j2(0, n, ll, ceilf, roundf)
    for i in range(1, 2 * n + 2):
        k1 = j1
        v0, v1 = v1, v0
        v0s, v1s = v1s, v0s
        v1[:] = 0.0
        j1, j2 = _pomeranz_j1j2(i, n, ll, ceilf, roundf)
        if i == 1 or i == 2 * n + 1:
            pw = gp
        elif i % 2:
            pw = g2p
        else:
            pw = g12p
        ln2 = j2 - k1 + 1
        if ln2 > 0:
            start = k1 - v0s
            alen = min(ln2, npw - start)
            cstart = j1 - k1
            clen = j2 - j1 + 1
            # v1[q] = (V0[start : start+alen] (*) pw[:ln2])[cstart + q]: the full
            # convolution of the two, entries cstart .. cstart+clen-1.  Loop in
            # axpy order (each v1[q] still sums over ii ascending).
            for ii in range(alen):
                a = v0[start + ii]
                if a != 0.0:
                    qlo = max(0, ii - cstart)
                    qhi = min(clen, ii - cstart + ln2)
                    if qhi > qlo:
                        _axpy(a, pw[cstart - ii + qlo : cstart - ii + qhi], v1[qlo:qhi])
            vmax = 0.0
            for q in range(clen):
                if v1[q] > vmax:
                    vmax = v1[q]
            if 0.0 < vmax < _TWOM128:
                for q in range(npw):
                    v1[q] *= _TWO128
                expnt -= 128
            v1s = v0s + j1 - k1
    ans = v1[n - v1s]
    for mm in range(1, n + 1):
        if abs(ans) > _TWO128:
            ans *= _TWOM128
            expnt += 128
        ans *= mm
    if expnt != 0:
        ans = math.ldexp(ans, expnt)
    return ans


# ------------------------------------------------------------ Pelz-Good
@kernel("f8(i8, f8)")
def _pelz_good_cdf(n, x):
    """Pelz-Good approximation to P(D_n <= x) (scipy's _kolmogn_PelzGood)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    fn = float(n)
    z = math.sqrt(fn) * x
    z2 = z * z
    z3 = z2 * z
    z4 = z2 * z2
    z6 = z4 * z2
    pi2 = _PI * _PI
    pi4 = pi2 * pi2
    pi6 = pi4 * pi2
    qlog = -pi2 / 8.0 / z2
    if qlog < -708.0:
        return 0.0
    q = math.exp(qlog)
    k1a = -z2
    k1b = pi2 / 4.0
    k2a = 6.0 * z6 + 2.0 * z4
    k2b = (2.0 * z4 - 5.0 * z2) * pi2 / 4.0
    k2c = pi4 * (1.0 - 2.0 * z2) / 16.0
    k3d = pi6 * (5.0 - 30.0 * z2) / 64.0
    k3c = pi4 * (-60.0 * z2 + 212.0 * z4) / 16.0
    k3b = pi2 * (135.0 * z4 - 96.0 * z6) / 4.0
    k3a = -30.0 * z6 - 90.0 * z4 * z4
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    maxk = int(math.ceil(16.0 * z / _PI))
    # Horner in q^8k over odd m = 2k-1.
    for kk in range(maxk, 0, -1):
        mo = 2 * kk - 1
        m2 = float(mo * mo)
        m4 = m2 * m2
        m6 = m4 * m2
        qp = q ** (8 * kk)
        s0 = s0 * qp + 1.0
        s1 = s1 * qp + (k1a + k1b * m2)
        s2 = s2 * qp + (k2a + k2b * m2 + k2c * m4)
        s3 = s3 * qp + (k3a + k3b * m2 + k3c * m4 + k3d * m6)
    scale = q * _SQRT_2PI
    s0 = s0 * scale / z
    s1 = s1 * scale / (6.0 * z4)
    s2 = s2 * scale / (72.0 * z4 * z3)
    s3 = s3 * scale / (6480.0 * z6 * z4)
    # Second sums over all integers k.
    q2 = math.exp(-pi2 / 2.0 / z2)
    sqrt3z = math.sqrt(3.0) * z
    e2 = 0.0
    e3 = 0.0
    for kk in range(maxk, 0, -1):
        ksq = float(kk * kk)
        qk = q2**ksq
        e2 += ksq * qk
        kpi = _PI * kk
        e3 += (sqrt3z + kpi) * (sqrt3z - kpi) * ksq * qk
    s2 += e2 * (pi2 * _SQRT_2PI / (-36.0 * z3))
    s3 += e3 * (pi2 * _SQRT_2PI / (216.0 * z6))
    s1 /= math.sqrt(fn)
    s2 /= fn
    s3 /= fn * math.sqrt(fn)
    return s0 + s1 + s2 + s3


# ------------------------------------------------------------ entry point
@kernel("f8(f8, i8)")
def kstwo_sf(d, n):
    """scipy.stats.kstwo.sf(d, n): P(D_n >= d) for the two-sided one-sample
    Kolmogorov-Smirnov statistic D_n with sample size n."""
    if n < 1 or math.isnan(d):
        return math.nan
    x = d
    if x >= 1.0:
        return 0.0
    if x <= 0.0:
        return 1.0
    fn = float(n)
    t = fn * x
    if t <= 1.0:
        # Ruben-Gambino: P(D_n < d) = n!/n^n (2t-1)^n for 1/(2n) < d <= 1/n.
        if t <= 0.5:
            return 1.0
        base = 2.0 * t - 1.0
        if n <= 140:
            prob = 1.0
            for i in range(1, n + 1):
                prob *= i * (1.0 / fn) * base
        else:
            prob = math.exp(_log_factorial_over_power(n) + fn * math.log(base))
        return _clip01(1.0 - prob)
    if t >= n - 1:
        # Ruben-Gambino: P(D_n >= d) = 2 (1-d)^n for d >= 1 - 1/n.
        return _clip01(2.0 * math.pow(1.0 - x, fn))
    if x >= 0.5:
        return _clip01(2.0 * _smirnov_sf(n, x))
    nx2 = t * x
    if n <= 140:
        if nx2 <= 0.754693:
            return _clip01(1.0 - _dmtw_cdf(n, x))
        if nx2 <= 4.0:
            return _clip01(1.0 - _pomeranz_cdf(n, x))
        return _clip01(2.0 * _smirnov_sf(n, x))
    if nx2 >= 370.0:
        return 0.0
    if nx2 >= 2.2:
        return _clip01(2.0 * _smirnov_sf(n, x))
    if n <= 100000 and fn * math.pow(x, 1.5) <= 1.4:
        cdf = _dmtw_cdf(n, x)
    else:
        cdf = _pelz_good_cdf(n, x)
    return _clip01(1.0 - cdf)
