"""Seeded weights that Python and TypeScript make bit for bit alike (tests/helpers/seeded.ts).

Fixtures of random checkpoints need not be committed: both sides make the same float32 values
from a seed, in the order of the sorted tensor names, with mulberry32 (lib/random.ts) and only
operations that IEEE 754 rounds the same in both languages (+, -, *, /, sqrt).
"""

import math

M32 = 0xFFFFFFFF


def mulberry32(seed: int):
    """Numbers in [0, 1), the sequence of lib/random.ts mulberry32(seed)."""
    a = seed & M32

    def nxt() -> float:
        nonlocal a
        a = (a + 0x6D2B79F5) & M32
        t = a
        t = ((t ^ (t >> 15)) * (t | 1)) & M32
        t = (t ^ ((t + (((t ^ (t >> 7)) * (t | 61)) & M32)) & M32)) & M32
        return ((t ^ (t >> 14)) & M32) / 4294967296.0

    return nxt


def value(name: str, shape, r: float, u: float) -> float:
    """One weight from r = 2u - 1 in [-1, 1): the rule of tests/helpers/seeded.ts seededValue."""
    if name.endswith("A_log"):
        return 0.5 + 1.5 * u
    if name.endswith("dt_proj.bias") or name.endswith("dt_bias"):
        return -3.0 + r
    if name.endswith(".D"):
        return 1.0 + 0.5 * r
    if name.endswith("norm.weight") or name.endswith("norm_f.weight"):
        return 1.0 + 0.2 * r
    if "conv1d" in name:
        return 0.5 * r if name.endswith("weight") else 0.1 * r
    if name.endswith(".bias"):
        return 0.1 * r
    if "embed" in name:
        return r
    return 1.5 * r / math.sqrt(shape[-1])


def seeded_tensors(specs, seed: int):
    """{name: list of floats (float64 values to be rounded to float32)} for [(name, shape)]."""
    nxt = mulberry32(seed)
    out = {}
    for name, shape in sorted(specs, key=lambda s: s[0]):
        n = 1
        for d in shape:
            n *= d
        vals = []
        for _ in range(n):
            u = nxt()
            vals.append(value(name, shape, 2.0 * u - 1.0, u))
        out[name] = vals
    return out


def seeded_ids(seed: int, n: int, vocab: int):
    """Token ids: floor(u * vocab) from mulberry32(seed)."""
    nxt = mulberry32(seed)
    return [int(nxt() * vocab) for _ in range(n)]


if __name__ == "__main__":
    # parity probe: the first values of mulberry32(42) and a seeded tensor, to compare with TS
    g = mulberry32(42)
    print([g() for _ in range(4)])
    t = seeded_tensors([("a.weight", [2, 3]), ("m.A_log", [2])], 7)
    print(t)
