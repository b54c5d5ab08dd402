import math

import numpy as np
import pytest

from blurkit.metrics import kohler_psnr
from blurkit.metrics.kohler import kohler_frame_indices


def reference_frame_psnr(z8, x8):
    """Straight per-frame transcription of eval_image.m (+ dftregistration usfac=1, imshift 'same')."""
    z, x = z8.astype(np.float64), x8.astype(np.float64)
    zs = (np.sum(x * z) / np.sum(z * z)) * z
    cc = np.fft.ifft2(np.fft.fft2(x.mean(axis=2)) * np.conj(np.fft.fft2(zs.mean(axis=2))))
    m, n = cc.shape
    flat = np.abs(cc).ravel(order="F")  # MATLAB's max scans columns first
    loc = int(np.argmax(flat))
    rloc, cloc = loc % m + 1, loc // m + 1  # 1-based, as in MATLAB
    row_shift = rloc - m - 1 if rloc > m // 2 else rloc - 1
    col_shift = cloc - n - 1 if cloc > n // 2 else cloc - 1

    def imshift(img, t):
        out = np.zeros_like(img)
        r, c = t
        src = img[max(-r, 0) : m - max(r, 0), max(-c, 0) : n - max(c, 0)]
        out[max(r, 0) : m + min(r, 0), max(c, 0) : n + min(c, 0)] = src
        return out

    zr = imshift(zs, (row_shift, col_shift))
    xr = x * imshift(np.ones_like(x), (row_shift, col_shift))
    w = np.array([0.299, 0.587, 0.114])
    mse = np.mean((xr @ w - zr @ w) ** 2)
    return (math.inf if mse == 0 else 10 * math.log10(255**2 / mse)), (row_shift, col_shift)


@pytest.fixture
def sequence(rng, image):
    """Frames of a scene drifting by whole pixels, as the robot playback does (N, H, W, 3) uint8."""
    big = image(rng, 80, 96)
    return np.stack([big[k : k + 60, 2 * k : 2 * k + 72] for k in range(9)])


@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_matches_reference_transcription(rng, sequence, precision):
    noisy = np.clip(sequence[4].astype(int) * 0.9 + rng.normal(0, 6, sequence[4].shape), 0, 255).astype(np.uint8)
    pred = np.roll(noisy, (2, -3), axis=(0, 1))
    score = kohler_psnr(pred, sequence, precision=precision)
    ref = [reference_frame_psnr(pred, f) for f in sequence]
    np.testing.assert_allclose(score.per_frame, [r[0] for r in ref], rtol=0, atol=1e-9)
    assert [tuple(s) for s in score.shifts] == [r[1] for r in ref]
    assert score.best_frame == 5 and score.psnr == max(r[0] for r in ref)
    assert tuple(score.shifts[4]) == (-2, 3)


def test_scaled_frame_scores_exactly_as_that_frame(sequence):
    frames = (sequence // 2) * 2  # even levels so that half of a frame is exact
    score = kohler_psnr(frames[6] // 2, frames)  # frame 7 at half intensity
    assert score.best_frame == 7
    assert score.psnr == math.inf  # rescaled by the least-squares factor, it is that frame exactly
    assert score.scales[6] == pytest.approx(2.0, abs=1e-12)
    assert tuple(score.shifts[6]) == (0, 0)
    assert np.isfinite(np.delete(score.per_frame, 6)).all()


def test_scaled_shifted_frame_is_registered_to_that_frame(sequence):
    # The official order estimates the scale before the shift, so a shifted copy is not scored as
    # exactly equal; it is still registered correctly and that frame gives the maximum.
    pred = np.roll(sequence[6] // 2, (-4, 5), axis=(0, 1))
    score = kohler_psnr(pred, sequence)
    assert score.best_frame == 7
    assert tuple(score.shifts[6]) == (4, -5)
    assert score.psnr == pytest.approx(reference_frame_psnr(pred, sequence[6])[0], abs=1e-9)
    assert score.psnr > np.sort(score.per_frame)[-2] + 1.0


def test_image_1_kernel_3_skips_frame_30(rng, image):
    base = image(rng, 40, 40)
    frames = np.stack([np.roll(base, k, axis=1) for k in range(35)])
    score_13 = kohler_psnr(frames[29], frames, image=1, kernel=3)
    assert 30 not in score_13.frames and len(score_13.frames) == 34
    assert score_13.best_frame != 30 and math.isfinite(score_13.psnr)
    score_23 = kohler_psnr(frames[29], frames, image=2, kernel=3)
    assert score_23.best_frame == 30 and score_23.psnr == math.inf


def test_frame_lists():
    assert kohler_frame_indices(199, 1, 3) == [*range(1, 30), *range(31, 199)]
    assert kohler_frame_indices(199, 4, 12) == list(range(1, 200))
    with pytest.raises(ValueError, match="at least one"):
        kohler_frame_indices(0)


def test_chunking_does_not_change_the_result(rng, sequence):
    pred = np.clip(sequence[2].astype(int) + rng.integers(-9, 10, sequence[2].shape), 0, 255).astype(np.uint8)
    a = kohler_psnr(pred, sequence, chunk=1)
    b = kohler_psnr(pred, sequence, chunk=64)
    np.testing.assert_array_equal(a.per_frame, b.per_frame)


def test_bad_inputs(sequence):
    with pytest.raises(ValueError, match=r"frames: expected \(N, 60, 72, 3\).*\(9, 60, 70, 3\)"):
        kohler_psnr(sequence[0], sequence[:, :, :70])
    with pytest.raises(ValueError, match="all zero"):
        kohler_psnr(np.zeros_like(sequence[0]), sequence)
    with pytest.raises(ValueError, match="within 1..9"):
        kohler_psnr(sequence[0], sequence, frame_indices=[0, 3])
    with pytest.raises(ValueError, match="uint8 ground-truth"):
        kohler_psnr(sequence[0], sequence.astype(np.float32))


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(rng, sequence):
    pred = np.clip(sequence[3].astype(int) + rng.integers(-9, 10, sequence[3].shape), 0, 255).astype(np.uint8)
    cpu = kohler_psnr(pred, sequence)
    gpu = kohler_psnr(pred, sequence, device="cuda")
    np.testing.assert_allclose(gpu.per_frame, cpu.per_frame, atol=1e-9)
    np.testing.assert_array_equal(gpu.shifts, cpu.shifts)


def test_peak_ties_go_to_first_column_major_maximum():
    from blurkit.metrics._kohler_cpu import first_max_column_major

    cc = np.zeros((6, 8), np.float32)
    cc[0, 5] = cc[3, 1] = cc[4, 1] = 2.0
    assert first_max_column_major(cc) == (3, 1)
    cc[2, 0] = 2.0
    assert first_max_column_major(cc) == (2, 0)
