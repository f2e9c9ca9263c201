"""Sorting kernels: a bucket sort for building a reference column.

``np.sort`` of 1e6 float64 takes ~65 ms on the benchmark machine, and a
reference build sorts every column: at 1e6 x 20 that was nearly all of the
build.  ``bucket_sort`` places every value in a bucket of a monotone
map (the map of :func:`fastmlops._kernels.ks.bucket_chunk`, ~n/2 buckets
placed on a sample of the values), scatters the
values bucket by bucket and sorts each small bucket in place: two linear
passes and many tiny sorts, ~3-4x faster than ``np.sort`` here.

The output equals ``np.sort``'s without its NaNs bit for bit: values that
compare equal are bit-identical in every kernel dtype except -0.0 and +0.0,
whose order a sort may choose; when a column holds both, the caller sorts with
numpy.  So it does when one bucket would hold a large share of the values
(many ties, or a range badly placed by the sample): the kernel returns -1.
"""

from __future__ import annotations

import numpy as np

from fastmlops._kernels._jit import kernel

_DTYPES = ("float64", "float32", "int64", "uint64")
_INSERTION = 24


@kernel(*(f"int64({d}[::1], float64, float64, int64, {d}[::1], int32[::1], int64[::1], int64)"
          for d in _DTYPES))
def bucket_sort(values, lo, scale, top, out, ids, starts, max_bucket):
    """Sort ``values`` into ``out`` (NaNs last, in input order) and return the
    NaN count, or -1 when a bucket would hold more than ``max_bucket`` values
    (``out`` then undefined).  The caller checks the zeros (-0.0 and +0.0).

    ``ids`` (int32, one per value) and ``starts`` (int64, ``top + 3``) are
    scratch.  The bucket of ``x`` is clamp((x - lo) * scale + 1, 0, top)
    truncated, monotone non-decreasing in ``x``; NaNs get bucket ``top + 1``."""
    n = values.size
    nb = top + 2
    ftop = np.float64(top)
    nan_id = np.int32(top + 1)
    for t in range(n):  # branch-free: vectorised
        x = np.float64(values[t])
        u = (x - lo) * scale + 1.0
        u = u if u > 0.0 else 0.0
        u = u if u < ftop else ftop
        ids[t] = nan_id if x != x else np.int32(u)
    for k in range(nb + 1):
        starts[k] = 0
    for t in range(n):
        starts[ids[t] + 1] += 1
    big = 0
    for k in range(nb - 1):
        big = max(big, starts[k + 1])
    if big > max_bucket:
        return -1
    nan = starts[nb]
    for k in range(nb):
        starts[k + 1] += starts[k]
    # scatter: starts[b] is the next free slot of bucket b
    for t in range(n):
        b = ids[t]
        out[starts[b]] = values[t]
        starts[b] += 1
    # starts[b] is now the end of bucket b; its start is the end of b - 1
    begin = 0
    for b in range(nb - 1):
        end = starts[b]
        size = end - begin
        if size > _INSERTION:
            out[begin:end].sort()
        elif size > 1:
            for i in range(begin + 1, end):
                v = out[i]
                j = i - 1
                while j >= begin and out[j] > v:
                    out[j + 1] = out[j]
                    j -= 1
                out[j + 1] = v
        begin = end
    return nan
