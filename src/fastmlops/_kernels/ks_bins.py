"""Kernels that reuse the KS bucket pass for the drift check's other counts.

A drift check counts every current value three times over: on the reference's
KS buckets, on its PSI bins and on its ECDF-picture grid.  The KS buckets are
far finer (8-32k, a monotone map of the value) than the ~35 union edges of the
PSI bins and the grid, so almost every bucket lies inside one union bin: its
count goes there whole (:func:`fold_buckets`).  Only the values of the few
buckets that may hold an edge ("split" buckets, marked by the caller with a
bucket of margin on each side) are searched among the edges one by one
(:func:`split_counts`).  The result equals ``numpy.searchsorted(edges,
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
from fastmlops._kernels.ks import _CHUNK, _bucket_chunk, _sigs, bin_right


@kernel(*(_sigs("void({d}[::1], uint16[::1], uint8[::1], float64[::1], int64[::1])")
          + _sigs("void({d}[:], uint16[::1], uint8[::1], float64[::1], int64[::1])")))
def split_counts(values, ids, split, edges, counts):
    """``counts[searchsorted(edges, float64(x), side="right")] += 1`` for every
    non-NaN value ``values[t]`` whose bucket ``ids[t]`` is marked in ``split``.

    The caller guarantees ``ids.size >= values.size``, every id below
    ``split.size`` and ``counts.size == edges.size + 1``.  ``values`` may be
    strided (a column of a row-major table): only the values of split buckets
    are read.
    """
    ne = edges.size
    for t in range(values.size):
        if split[ids[t]]:
            x = np.float64(values[t])
            if x == x:
                counts[bin_right(edges, 0, ne, x)] += 1


@kernel("void(int64[::1], int64[::1], int64[::1])", "void(int32[::1], int64[::1], int64[::1])")
def fold_buckets(bucket_counts, bin_of, counts):
    """``counts[bin_of[b]] += bucket_counts[b]`` for every bucket ``b`` with
    ``bin_of[b] >= 0`` (the caller guarantees ``bin_of[b] < counts.size`` and
    ``bin_of.size >= bucket_counts.size``)."""
    for b in range(bucket_counts.size):
        k = bin_of[b]
        if k >= 0:
            counts[k] += bucket_counts[b]


@kernel(*_sigs("int64({d}[::1], float64, float64, float64, uint8[::1], {d}[::1])"))
def gather_mapped(values, lo, scale, top, selected, out):
    """Copy the non-NaN values whose bucket (the map ``lo, scale, top`` of
    ``_kernels.ks``) is selected into ``out``, in input order; return how many,
    or -1 (stopping) when ``out`` is full.  ``selected.size`` must exceed
    ``int(top)`` (the caller checks)."""
    idx = np.empty(_CHUNK, np.int32)
    n = values.size
    k = 0
    room = out.size
    for start in range(0, n, _CHUNK):
        stop = min(n, start + _CHUNK)
        _bucket_chunk(values, start, stop, lo, scale, top, idx)
        for t in range(stop - start):
            if selected[idx[t]]:
                x = values[start + t]
                if x == x:
                    if k == room:
                        return -1
                    out[k] = x
                    k += 1
    return k
