"""Deterministic traffic assignment: XXH64 of 8-byte integer keys.

:func:`xxh64_u64` is XXH64 (Yann Collet's 64-bit xxHash, as specified in
``doc/xxhash_spec.md`` of the xxHash project) of the 8 little-endian bytes of
one integer, with a seed; it equals ``xxhash.xxh64_intdigest(key.to_bytes(8,
'little', signed=True), seed)``.  All arithmetic is on uint64 (wrapping).
"""

from __future__ import annotations

import numpy as np

from fastmlops._kernels._jit import kernel

_P1 = np.uint64(0x9E3779B185EBCA87)
_P2 = np.uint64(0xC2B2AE3D27D4EB4F)
_P3 = np.uint64(0x165667B19E3779F9)
_P4 = np.uint64(0x85EBCA77C2B2AE63)
_P5 = np.uint64(0x27D4EB2F165667C5)
_LEN8 = np.uint64(8)
_S27 = np.uint64(27)
_S37 = np.uint64(37)
_S31 = np.uint64(31)
_S33 = np.uint64(33)
_S29 = np.uint64(29)
_S32 = np.uint64(32)


@kernel("u8(u8, u8)")
def xxh64_u64(value, seed):
    """XXH64 of the 8 little-endian bytes of ``value`` with ``seed``."""
    # input shorter than 32 bytes: the accumulator starts at seed + PRIME5 + len
    h = seed + _P5 + _LEN8
    # one 8-byte lane: round(0, lane) = rotl(lane * PRIME2, 31) * PRIME1
    k = value * _P2
    k = ((k << _S31) | (k >> _S33)) * _P1
    h ^= k
    h = ((h << _S27) | (h >> _S37)) * _P1 + _P4
    # avalanche
    h ^= h >> _S33
    h *= _P2
    h ^= h >> _S29
    h *= _P3
    h ^= h >> _S32
    return h


@kernel("void(i8[::1], u8, u8, i2[::1])", "void(u8[::1], u8, u8, i2[::1])")
def buckets_into(keys, seed, n_buckets, out):
    """``out[i] = xxh64(keys[i], seed) % n_buckets`` (n_buckets <= 32767)."""
    for i in range(keys.shape[0]):
        out[i] = np.int16(xxh64_u64(np.uint64(keys[i]), seed) % n_buckets)


@kernel("void(i8[::1], u8, u8, u8, b1[::1])", "void(u8[::1], u8, u8, u8, b1[::1])")
def in_canary_into(keys, seed, n_buckets, threshold, out):
    """``out[i] = xxh64(keys[i], seed) % n_buckets < threshold``."""
    for i in range(keys.shape[0]):
        out[i] = xxh64_u64(np.uint64(keys[i]), seed) % n_buckets < threshold
