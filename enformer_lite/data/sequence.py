"""DNA base codes shared by every part of the package.

Sequences are stored as uint8 codes A=0, C=1, G=2, T=3, N=4. Lower-case (soft-masked)
letters map to the same codes. The IUPAC ambiguity codes (R, Y, S, W, K, M, B, D, H, V) and
any other letter are stored as N (no base: an all-zero one-hot row); extraction counts them
per chromosome in its log (:func:`count_ambiguous`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

BASES = "ACGTN"
N_CODE = 4

_ENCODE = np.full(256, N_CODE, dtype=np.uint8)
for _i, _b in enumerate("ACGT"):
    _ENCODE[ord(_b)] = _i
    _ENCODE[ord(_b.lower())] = _i
_DECODE = np.frombuffer(BASES.encode(), dtype=np.uint8)
_COMPLEMENT = np.array([3, 2, 1, 0, 4], dtype=np.uint8)


def encode(seq: str | bytes) -> npt.NDArray[np.uint8]:
    """Encode a DNA string to base codes, shape (L,) uint8."""
    raw = seq.encode("ascii") if isinstance(seq, str) else seq
    return _ENCODE[np.frombuffer(raw, dtype=np.uint8)]


_AMBIGUOUS = np.ones(256, dtype=bool)
for _b in "ACGTNacgtn":
    _AMBIGUOUS[ord(_b)] = False


def count_ambiguous(seq: str | bytes) -> int:
    """Number of letters other than A, C, G, T and N (either case), which :func:`encode` stores as N."""
    raw = seq.encode("ascii") if isinstance(seq, str) else seq
    return int(np.count_nonzero(_AMBIGUOUS[np.frombuffer(raw, dtype=np.uint8)]))


def decode(codes: npt.ArrayLike) -> str:
    """Decode base codes (L,) back to an upper-case string."""
    return _DECODE[np.asarray(codes, dtype=np.uint8)].tobytes().decode("ascii")


def reverse_complement(codes: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Reverse complement of base codes along the last axis, shape preserved."""
    return _COMPLEMENT[codes[..., ::-1]]


def one_hot(codes: npt.NDArray[np.uint8], dtype: npt.DTypeLike = np.float32) -> np.ndarray:
    """One-hot encode codes (..., L) to (..., L, 4); N becomes an all-zero row."""
    eye = np.concatenate([np.eye(4, dtype=dtype), np.zeros((1, 4), dtype=dtype)])
    return eye[codes]
