"""Bin counting against sorted interior edges (PSI, KL and JS divergence).

A value ``x`` falls in bin ``searchsorted(edges, x, side="right")``, i.e. the
number of edges ``e`` with ``e <= x``; NaN values are counted separately.  Two
kernels give exactly that count; both write into a caller-owned output row
``out`` of length ``len(edges) + 2``: ``out[:-1]`` are the per-bin counts of
the non-NaN values and ``out[-1]`` is the number of NaN values.  ``out`` is
*added to* (callers pass a zeroed row), so one thread owns one row.

* :func:`count_linear_f8` / ``_f4`` -- for up to :data:`LINEAR_MAX_EDGES`
  edges.  Per block of :data:`BLOCK` values (kept in L1), it counts
  ``x >= e_k`` for every edge with branch-free compare-and-add loops that LLVM
  vectorises (four edges per pass over the block), then takes differences of
  the cumulative counts.  The work is ``len(edges) + 1`` vector compares per
  value; there is no scatter, so no store-to-load stalls.
* :func:`count_bsearch_f8` / ``_f4`` -- for more edges: a branch-free binary
  search over the edges padded with NaN to a power of two (NaN never compares
  ``<=``, so padding and NaN edges are never counted, exactly as
  :func:`numpy.searchsorted` sorts NaN last), one search level at a time over
  a block so that the searches of different values overlap, then a scatter
  into four interleaved count rows.

Comparisons are always made in float64: float32 values are widened exactly
(what :func:`numpy.searchsorted` does after type promotion), never the edges
narrowed.  The edges must be sorted ascending with any NaN last, as
:func:`numpy.unique` returns them.
"""

from __future__ import annotations

import numpy as np

from fastmlops._kernels._jit import kernel

#: Values per block: 2048 float64 (16 KiB) stay in L1 across the passes.
BLOCK = 2048

#: Above this many interior edges the binary-search kernel is faster.
LINEAR_MAX_EDGES = 64

_SIGS_F8 = ("void(f8[::1], f8[::1], i8[::1])",)
_SIGS_F4 = ("void(f4[::1], f8[::1], i8[::1])",)


@kernel()
def _cum_block(x, edges, cum):
    """``cum[k] += #{i: x[i] >= edges[k]}``; returns the number of NaN values.

    ``x`` is one block (a view); indexing it from 0 lets LLVM prove the indices
    non-negative and vectorise with plain loads instead of gathers."""
    m = edges.size
    length = x.size
    k = 0
    while k + 4 <= m:
        e0 = edges[k]
        e1 = edges[k + 1]
        e2 = edges[k + 2]
        e3 = edges[k + 3]
        c0 = 0
        c1 = 0
        c2 = 0
        c3 = 0
        for i in range(length):
            v = x[i]
            c0 += v >= e0
            c1 += v >= e1
            c2 += v >= e2
            c3 += v >= e3
        cum[k] += c0
        cum[k + 1] += c1
        cum[k + 2] += c2
        cum[k + 3] += c3
        k += 4
    while k < m:
        ek = edges[k]
        c0 = 0
        for i in range(length):
            c0 += x[i] >= ek
        cum[k] += c0
        k += 1
    nan = 0
    for i in range(length):
        v = x[i]
        nan += v != v
    return nan


@kernel()
def _finish_linear(cum, n, nan, out):
    """Turn cumulative ``>=`` counts into per-bin counts and add them to ``out``."""
    m = cum.size
    valid = n - nan
    if m == 0:
        out[0] += valid
    else:
        out[0] += valid - cum[0]
        for k in range(1, m):
            out[k] += cum[k - 1] - cum[k]
        out[m] += cum[m - 1]
    out[m + 1] += nan


@kernel(*_SIGS_F8)
def count_linear_f8(x, edges, out):
    """Add the bin counts of float64 ``x`` to ``out`` (linear kernel)."""
    n = x.size
    cum = np.zeros(edges.size, np.int64)
    nan = 0
    nblocks = (n + BLOCK - 1) // BLOCK
    for b in range(nblocks):
        start = b * BLOCK
        length = min(BLOCK, n - start)
        nan += _cum_block(x[start:start + length], edges, cum)
    _finish_linear(cum, n, nan, out)


@kernel(*_SIGS_F4)
def count_linear_f4(x, edges, out):
    """Add the bin counts of float32 ``x`` (compared as float64) to ``out``."""
    n = x.size
    cum = np.zeros(edges.size, np.int64)
    buf = np.empty(BLOCK, np.float64)
    nan = 0
    nblocks = (n + BLOCK - 1) // BLOCK
    for b in range(nblocks):
        start = b * BLOCK
        length = min(BLOCK, n - start)
        block = x[start:start + length]
        for i in range(length):
            buf[i] = np.float64(block[i])
        nan += _cum_block(buf[:length], edges, cum)
    _finish_linear(cum, n, nan, out)


@kernel()
def _padded_edges(edges):
    """``E[1 + k] = edges[k]``, everything else NaN, ``len(E)`` a power of two
    greater than ``len(edges)``."""
    m = edges.size
    size = 1
    while size <= m:
        size *= 2
    padded = np.full(size, np.nan)
    for k in range(m):
        padded[k + 1] = edges[k]
    return padded


@kernel()
def _bsearch_block(x, padded, idx, counts):
    """Bin the block ``x`` with a branch-free binary search; scatter into
    ``counts`` (4 interleaved rows); return the NaN count of the block."""
    length = x.size
    for i in range(length):
        idx[i] = 0
    h = padded.size >> 1
    while h > 0:
        for i in range(length):
            a = idx[i]
            # unsigned index: no negative-index wraparound code in the loop
            idx[i] = a + h * (padded[np.uint64(a + h)] <= x[i])
        h >>= 1
    nan = 0
    for i in range(length):
        v = x[i]
        nan += v != v
    j = 0
    while j + 4 <= length:
        counts[0, idx[j]] += 1
        counts[1, idx[j + 1]] += 1
        counts[2, idx[j + 2]] += 1
        counts[3, idx[j + 3]] += 1
        j += 4
    while j < length:
        counts[0, idx[j]] += 1
        j += 1
    return nan


@kernel()
def _finish_bsearch(counts, nan, m, out):
    for k in range(m + 1):
        out[k] += counts[0, k] + counts[1, k] + counts[2, k] + counts[3, k]
    # NaN compares false everywhere, so the search put every NaN in bin 0
    out[0] -= nan
    out[m + 1] += nan


@kernel(*_SIGS_F8)
def count_bsearch_f8(x, edges, out):
    """Add the bin counts of float64 ``x`` to ``out`` (binary-search kernel)."""
    n = x.size
    padded = _padded_edges(edges)
    counts = np.zeros((4, padded.size), np.int64)
    idx = np.empty(BLOCK, np.int64)
    nan = 0
    nblocks = (n + BLOCK - 1) // BLOCK
    for b in range(nblocks):
        start = b * BLOCK
        length = min(BLOCK, n - start)
        nan += _bsearch_block(x[start:start + length], padded, idx, counts)
    _finish_bsearch(counts, nan, edges.size, out)


@kernel(*_SIGS_F4)
def count_bsearch_f4(x, edges, out):
    """Add the bin counts of float32 ``x`` (compared as float64) to ``out``."""
    n = x.size
    padded = _padded_edges(edges)
    counts = np.zeros((4, padded.size), np.int64)
    idx = np.empty(BLOCK, np.int64)
    buf = np.empty(BLOCK, np.float64)
    nan = 0
    nblocks = (n + BLOCK - 1) // BLOCK
    for b in range(nblocks):
        start = b * BLOCK
        length = min(BLOCK, n - start)
        block = x[start:start + length]
        for i in range(length):
            buf[i] = np.float64(block[i])
        nan += _bsearch_block(buf[:length], padded, idx, counts)
    _finish_bsearch(counts, nan, edges.size, out)
