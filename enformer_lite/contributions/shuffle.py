"""Dinucleotide-preserving shuffles (Altschul & Erickson 1985).

A sequence is a walk through a multigraph whose vertices are letters and whose edges are
its dinucleotides; every Eulerian walk from the same first letter uses the same
dinucleotides, so it is a shuffle with identical dinucleotide counts (and identical first
and last letters). A uniformly random such walk is drawn as in the BEST theorem: pick a
random arborescence of "last exits" towards the final letter (Wilson's loop-erased random
walk, which draws each tree with probability proportional to the product of its edge
multiplicities), then order every other exit edge of each letter at random.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def dinucleotide_shuffle(codes: npt.NDArray[np.uint8], rng: np.random.Generator) -> npt.NDArray[np.uint8]:
    """A random shuffle of ``codes`` (L,) with the same count of every ordered pair of neighbours.

    Works for any small alphabet (base codes 0-4, N included); sequences shorter than 3
    are returned unchanged, as they have no other arrangement.
    """
    codes = np.asarray(codes, dtype=np.uint8)
    if codes.shape[0] < 3:
        return codes.copy()
    first, last = int(codes[0]), int(codes[-1])
    exits: dict[int, list[int]] = {}
    for a, b in zip(codes[:-1].tolist(), codes[1:].tolist()):
        exits.setdefault(a, []).append(b)

    # Wilson's algorithm: for each letter, a random last exit so that last exits lead to `last`.
    last_exit: dict[int, int] = {}
    in_tree = {last}
    for start in exits:
        step: dict[int, int] = {}
        v = start
        while v not in in_tree:
            step[v] = int(rng.integers(len(exits[v])))
            v = exits[v][step[v]]
        v = start
        while v not in in_tree:
            in_tree.add(v)
            last_exit[v] = step[v]
            v = exits[v][step[v]]

    order: dict[int, list[int]] = {}
    for v, succ in exits.items():
        if v in last_exit:
            keep = succ[last_exit[v]]
            rest = succ[: last_exit[v]] + succ[last_exit[v] + 1 :]
            order[v] = [rest[i] for i in rng.permutation(len(rest))] + [keep]
        else:
            order[v] = [succ[i] for i in rng.permutation(len(succ))]

    out = np.empty_like(codes)
    out[0] = first
    used = dict.fromkeys(order, 0)
    current = first
    for i in range(1, codes.shape[0]):
        following = order[current][used[current]]
        used[current] += 1
        out[i] = current = following
    return out
