"""Kernels that reuse the KS bucket pass for the drift check's other counts.

A drift check counts every current value three times over: on the reference's
KS buckets, on its PSI bins and on its ECDF-picture grid.  The KS buckets are
far finer (8-32k, a monotone map of the value) than the ~35 union edges of the
PSI bins and the grid, so almost every bucket lies inside one union bin: its
count goes there whole (:func:`fold_buckets`).  Only the values of the few
buckets that may hold an edge ("split" buckets, marked by the caller with a
bucket of margin on each side) are searched among the edges one by one
(:func:`bucket_split_counts`, in the loop that counts the buckets).  The
result equals ``numpy.searchsorted(edges,
float64(x), side="right")`` counted per bin, for every value, bit for bit
(tests compare it with :func:`fastmlops.divergence.bin_counts`).

:func:`gather_mapped` is the second pass of a streamed check: the bucket of
each value and the copy of the values of selected buckets, in one loop, without
the bucket counts and the id array of the first pass.

Reference: ``numpy.searchsorted`` + ``numpy.bincount`` for the first two; for
the third ``values[selected[bucket(values)] & ~isnan(values)]``.
"""

from __future__ import annotations

import numpy as np

from fastmlops._kernels._jit import kernel
from fastmlops._kernels.ks import CHUNK, bucket_chunk, sigs, bin_right, bucket_ids


@kernel(*(sigs("int64({d}[::1], float64, float64, float64, int64[::1], uint16[::1], "
                "uint8[::1], float64[::1], int64[::1])")
          + sigs("int64({d}[::1], float64, float64, float64, int32[::1], uint16[::1], "
                  "uint8[::1], float64[::1], int64[::1])")))
def bucket_split_counts(values, lo, scale, top, counts, ids, split, edges, scounts):
    """``_kernels.ks.bucket_counts`` (returns the NaNs), and for every non-NaN
    value whose bucket is marked in ``split``
    ``scounts[searchsorted(edges, float64(x), side="right")] += 1``, in its
    loop of increments, which reads every bucket id anyway (a separate pass
    read them all again: 0.7 ns a value).  The loop of increments is written
    out here, in ``bucket_counts`` and in ``rows_bucket_counts`` on purpose:
    one shared helper made the row-major check 8-10 % slower (its arguments may
    alias, so the compiler reloads them).  The caller guarantees
    ``split.size >= counts.size > int(top)`` and ``scounts.size ==
    edges.size + 1``."""
    n = values.size
    nan = bucket_ids(values, lo, scale, top, ids)
    nb = counts.size
    ne = edges.size
    small = np.zeros(nb, np.uint16)
    for start in range(0, n, 65535):
        stop = min(n, start + 65535)
        part = ids[start:stop]
        for t in range(stop - start):
            b = part[t]
            small[b] += np.uint16(1)
            if split[b]:
                x = np.float64(values[start + t])
                if x == x:
                    scounts[bin_right(edges, 0, ne, x)] += 1
        for k in range(nb):
            counts[k] += small[k]
            small[k] = 0
    counts[0] -= nan
    return nan


@kernel("void(int64[::1], int64[::1], int64[::1])", "void(int32[::1], int64[::1], int64[::1])")
def fold_buckets(bucket_counts, bin_of, counts):
    """``counts[bin_of[b]] += bucket_counts[b]`` for every bucket ``b`` with
    ``bin_of[b] >= 0`` (the caller guarantees ``bin_of[b] < counts.size`` and
    ``bin_of.size >= bucket_counts.size``)."""
    for b in range(bucket_counts.size):
        k = bin_of[b]
        if k >= 0:
            counts[k] += bucket_counts[b]


@kernel(*sigs("int64({d}[::1], float64, float64, float64, uint8[::1], {d}[::1])"))
def gather_mapped(values, lo, scale, top, selected, out):
    """Copy the non-NaN values whose bucket (the map ``lo, scale, top`` of
    ``_kernels.ks``) is selected into ``out``, in input order; return how many,
    or -1 (stopping) when ``out`` is full.  ``selected.size`` must exceed
    ``int(top)`` (the caller checks)."""
    idx = np.empty(CHUNK, np.int32)
    n = values.size
    k = 0
    room = out.size
    for start in range(0, n, CHUNK):
        stop = min(n, start + CHUNK)
        bucket_chunk(values, start, stop, lo, scale, top, idx)
        for t in range(stop - start):
            if selected[idx[t]]:
                x = values[start + t]
                if x == x:
                    if k == room:
                        return -1
                    out[k] = x
                    k += 1
    return k
