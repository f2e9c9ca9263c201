"""Rolling window sums and burn rates over per-minute event counts.

Both kernels build prefix sums once (int64, exact) and then take every
window sum as the difference of two prefix sums: O(1) per window and minute.
A window that reaches back before the first minute covers only the minutes
that exist (earlier minutes count as no traffic).
"""

from __future__ import annotations

import numpy as np

from fastmlops._kernels._jit import kernel


@kernel("void(i8[::1], i8[::1], i8[::1], f8, f8[:, ::1])")
def burn_rates(good, total, windows, budget, out):
    """out[k, i] = (bad / total over the windows[k] minutes ending at i) / budget.

    The prefix sums are kept as float64, exact while the total stays below
    2**53 (the caller checks), so the inner loop is float-only and
    vectorises.  It computes ``bad * (1 / budget) / max(total, 1)``: within a
    few ulp of ``bad / total / budget``.  A window with no traffic has no bad
    events either (good <= total is checked by the caller), so it gives 0.
    """
    n = good.shape[0]
    cbad = np.empty(n + 1, np.float64)
    ctot = np.empty(n + 1, np.float64)
    cbad[0] = 0.0
    ctot[0] = 0.0
    b = 0
    t = 0
    for i in range(n):
        b += total[i] - good[i]
        t += total[i]
        cbad[i + 1] = b
        ctot[i + 1] = t
    scale = 1.0 / budget
    for k in range(windows.shape[0]):
        w = windows[k]
        head = min(w, n)
        row = out[k]
        for i in range(head):  # windows that start before the first minute
            row[i] = cbad[i + 1] * scale / max(ctot[i + 1], 1.0)
        # full windows: slices with no offset arithmetic in the loop, so it
        # vectorises (about 2x faster than indexing cbad[i + 1 - w])
        m = n - head
        b_end = cbad[head + 1:]
        b_start = cbad[head + 1 - w:n + 1 - w]
        t_end = ctot[head + 1:]
        t_start = ctot[head + 1 - w:n + 1 - w]
        dst = row[head:]
        for i in range(m):
            dst[i] = (b_end[i] - b_start[i]) * scale / max(t_end[i] - t_start[i], 1.0)


@kernel("void(i8[::1], i8[::1], i8[:, ::1])")
def window_sums(x, windows, out):
    """out[k, i] = sum of x over the windows[k] minutes ending at i."""
    n = x.shape[0]
    c = np.empty(n + 1, np.int64)
    c[0] = 0
    for i in range(n):
        c[i + 1] = c[i] + x[i]
    for k in range(windows.shape[0]):
        w = windows[k]
        head = min(w, n)
        row = out[k]
        for i in range(head):
            row[i] = c[i + 1]
        for i in range(head, n):
            row[i] = c[i + 1] - c[i + 1 - w]
