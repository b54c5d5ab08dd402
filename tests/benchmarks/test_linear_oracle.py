"""The linear ceiling of the sim-to-real study on pairs with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.linear_oracle import local_linear_oracle


def _texture(shape: tuple[int, int, int], seed: int = 0) -> np.ndarray:
    import cv2

    rng = np.random.default_rng(seed)
    return np.clip(cv2.GaussianBlur(rng.random(shape), (0, 0), 0.7) * 0.8 + 0.1, 0.0, 1.0)


def test_oracle_inverts_a_known_linear_blur() -> None:
    import cv2

    sharp = _texture((100, 130, 3))
    blurred = cv2.GaussianBlur(sharp, (0, 0), 1.0)
    restored = local_linear_oracle(blurred, sharp, size=15, tile=64)
    err_in = np.sqrt(np.mean((blurred - sharp) ** 2))
    err_out = np.sqrt(np.mean((restored - sharp) ** 2))
    assert 20 * np.log10(err_in / err_out) > 6.0  # more than 6 dB of the blur undone


def test_oracle_of_an_unblurred_or_brightened_pair_is_exact() -> None:
    sharp = _texture((70, 90, 3), seed=1)
    same = local_linear_oracle(sharp, sharp, size=5, tile=40)
    np.testing.assert_allclose(same, sharp, atol=1e-6)
    brighter = local_linear_oracle(sharp + 0.04, sharp, size=5, tile=40)  # offset only
    np.testing.assert_allclose(brighter, sharp, atol=1e-6)


def test_oracle_rejects_mismatched_images_and_even_sizes() -> None:
    a = np.zeros((20, 20, 3))
    with pytest.raises(ValueError, match="one size"):
        local_linear_oracle(a, np.zeros((20, 21, 3)))
    with pytest.raises(ValueError, match="odd size"):
        local_linear_oracle(a, a, size=4)
