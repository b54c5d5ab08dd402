"""Explicit randomness: seeds, generators and per-item seed derivation.

Every random function in blurkit takes a ``numpy.random.Generator`` or an integer seed; nothing uses
the global RNG. Dataset items derive their seed from ``(base seed, item key)`` so that an item can be
regenerated alone, independent of worker count, sharding and processing order.
"""

from __future__ import annotations

import hashlib

import numpy as np

SeedLike = int | np.random.Generator | np.random.SeedSequence | None


def as_generator(seed: SeedLike) -> np.random.Generator:
    """Return a ``numpy.random.Generator`` for an int seed, a SeedSequence or a Generator.

    ``None`` is refused on purpose: blurkit never draws from an unseeded source silently.

    >>> bool(as_generator(3).integers(0, 100) == as_generator(3).integers(0, 100))
    True
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(seed)
    if seed is None:
        raise ValueError("seed: an int, a SeedSequence or a numpy.random.Generator is required, got None")
    if isinstance(seed, (bool, float)) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed: expected an int or numpy.random.Generator, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed: must be >= 0, got {seed}")
    return np.random.default_rng(int(seed))


def key_words(key: str) -> tuple[int, ...]:
    """Stable 32-bit words of a string key (SHA-256), usable as a SeedSequence spawn key."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))


def item_seed_sequence(base_seed: int, key: str) -> np.random.SeedSequence:
    """SeedSequence of one dataset item, a pure function of ``(base_seed, key)``.

    >>> a = item_seed_sequence(0, "img/001.png").generate_state(2)
    >>> b = item_seed_sequence(0, "img/001.png").generate_state(2)
    >>> bool((a == b).all())
    True
    """
    if base_seed < 0:
        raise ValueError(f"seed: must be >= 0, got {base_seed}")
    return np.random.SeedSequence(entropy=int(base_seed), spawn_key=key_words(key))


def item_seed(base_seed: int, key: str) -> int:
    """A 63-bit integer seed for one dataset item (what manifests record)."""
    state = item_seed_sequence(base_seed, key).generate_state(2, dtype=np.uint32)
    return int((int(state[0]) | (int(state[1]) << 32)) & ((1 << 63) - 1))
