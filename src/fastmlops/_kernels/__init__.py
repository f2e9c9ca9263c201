"""Private Numba kernels, one module per family.

Kernels take contiguous arrays of a known dtype and never validate: the public
modules in :mod:`fastmlops` check and convert input before calling them.
Importing anything from this package imports Numba but compiles nothing; all
compilation options live in :mod:`fastmlops._kernels._jit`.
"""
