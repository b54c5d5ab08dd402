import numpy as np
import pytest

from blurkit.kernels import (
    centroid,
    line_kernel,
    load_kernel_bank,
    normalize_kernel,
    rasterize,
    stack_kernels,
)
from blurkit.kernels.psf import fit_scale, kernel_support, pad_kernel, splat_centred


def test_rasterize_multiple_exposures_are_cumulative_and_centred():
    t = np.linspace(0, 1, 1000)
    pos = np.stack([40 * t, 10 * np.sin(6 * t)], axis=1)
    ks = rasterize(pos, exposure=[0.01, 0.1, 0.5, 1.0])
    assert ks.shape[0] == 4
    for k in ks:
        cx, cy = centroid(k)
        c = (k.shape[0] - 1) / 2
        assert abs(cx - c) < 1e-6 and abs(cy - c) < 1e-6
        assert abs(k.sum(dtype=np.float64) - 1) < 1e-6
    # shorter exposure, more concentrated mass
    assert ks[0].max() > ks[3].max()


def test_subpixel_rasterisation_is_bilinear():
    # two samples half a pixel apart split their mass over three pixels 1/4, 1/2, 1/4
    pos = np.array([[0.0, 0.0], [1.0, 0.0]])
    k = rasterize(pos)
    row = k[k.shape[0] // 2]
    c = k.shape[0] // 2
    np.testing.assert_allclose(row[c - 1 : c + 2], [0.25, 0.5, 0.25], atol=1e-7)


def test_rasterize_rejects_bad_input():
    with pytest.raises(ValueError, match="positions"):
        rasterize(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="positions"):
        rasterize(np.full((5, 2), np.nan))
    with pytest.raises(ValueError, match="exposure"):
        rasterize(np.zeros((5, 2)), exposure=0.0)
    with pytest.raises(ValueError, match="size"):
        rasterize(np.zeros((5, 2)), size=4)


@pytest.mark.parametrize("length", [0.0, 0.5, 1.0, 3.3, 7.0, 20.25])
@pytest.mark.parametrize("angle", [0.0, 17.0, 45.0, 90.0, 133.0])
def test_line_kernel_properties(length, angle):
    k = line_kernel(length, angle)
    assert k.shape[0] % 2 == 1
    assert abs(k.sum(dtype=np.float64) - 1) < 1e-6
    cx, cy = centroid(k)
    c = (k.shape[0] - 1) / 2
    assert abs(cx - c) < 1e-6 and abs(cy - c) < 1e-6
    # second moment along the line: that of the evenly spaced samples, plus the bilinear spread (<= 1/4)
    n = max(2, int(np.ceil(length * 16)) + 1)
    samples_var = length**2 / 12 * (n + 1) / (n - 1)
    a = np.radians(angle)
    ys, xs = np.indices(k.shape)
    along = (xs - c) * np.cos(a) - (ys - c) * np.sin(a)
    var = float((k * along**2).sum())
    assert samples_var - 1e-4 <= var <= samples_var + 0.25 + 1e-4


def test_line_kernel_horizontal_is_a_row():
    k = line_kernel(5.0, 0.0)
    c = k.shape[0] // 2
    assert np.allclose(k[np.arange(k.shape[0]) != c], 0)


def test_normalize_kernel_centres_clips_and_crops():
    k = np.zeros((9, 12))
    k[2, 8] = 3.0
    k[3, 9] = 1.0
    k[0, 0] = -0.5  # ringing
    n = normalize_kernel(k)
    assert n.shape[0] % 2 == 1 and n.shape[0] <= 5
    cx, cy = centroid(n)
    c = (n.shape[0] - 1) / 2
    assert abs(cx - c) < 1e-6 and abs(cy - c) < 1e-6
    assert (n >= 0).all() and abs(n.sum(dtype=np.float64) - 1) < 1e-6


def test_normalize_kernel_errors_name_the_kernel():
    with pytest.raises(ValueError, match="bank.npy\\[3\\]"):
        normalize_kernel(np.zeros((5, 5)), name="bank.npy[3]")
    with pytest.raises(ValueError, match="2-D"):
        normalize_kernel(np.zeros((2, 5, 5)))


def test_stack_and_pad():
    s = stack_kernels([line_kernel(3, 0), line_kernel(15, 30)])
    assert s.shape[1] == s.shape[2] == line_kernel(15, 30).shape[0]
    assert kernel_support(pad_kernel(np.ones((3, 3)) / 9, 9)) == 1
    with pytest.raises(ValueError, match="kernels"):
        stack_kernels([np.ones((2, 2))])


def _levin_like(rng, n=4):
    out = []
    for _ in range(n):
        k = np.zeros((19, 23))
        pts = rng.integers(3, 16, size=(12, 2))
        k[pts[:, 0], pts[:, 1]] = rng.random(12)
        out.append(k)
    return out


def _crop(stack, size):
    h = (stack.shape[-1] - size) // 2
    return stack[..., h : stack.shape[-1] - h, h : stack.shape[-1] - h]


def test_bank_formats(tmp_path):
    import cv2
    import scipy.io

    rng = np.random.default_rng(0)
    ks = _levin_like(rng)
    np.save(tmp_path / "a.npy", np.stack(ks))
    np.savez(tmp_path / "b.npz", kernels=np.stack(ks))
    scipy.io.savemat(tmp_path / "c.mat", {"kernels": np.stack(ks, axis=-1)})  # MATLAB h x w x N
    cell = np.empty((1, 2), dtype=object)
    cell[0, 0], cell[0, 1] = ks[0], ks[1]
    scipy.io.savemat(tmp_path / "d.mat", {"kers": cell})
    png = (ks[0] / ks[0].max() * 65535).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "e.png"), png)

    a = load_kernel_bank(tmp_path / "a.npy")
    b = load_kernel_bank(tmp_path / "b.npz")
    c = load_kernel_bank(tmp_path / "c.mat")
    d = load_kernel_bank(tmp_path / "d.mat")
    e = load_kernel_bank(tmp_path / "e.png")
    assert a.shape[0] == b.shape[0] == c.shape[0] == 4 and d.shape[0] == 2 and e.shape[0] == 1
    np.testing.assert_allclose(a, b)
    np.testing.assert_allclose(a, c, atol=1e-7)
    np.testing.assert_allclose(_crop(a[:2], d.shape[-1]), d, atol=1e-7)
    np.testing.assert_allclose(_crop(a[:1], e.shape[-1]), e, atol=1e-4)  # 16-bit quantisation
    for k in a:
        cx, cy = centroid(k)
        c0 = (k.shape[0] - 1) / 2
        assert abs(cx - c0) < 1e-5 and abs(cy - c0) < 1e-5
    folder = load_kernel_bank(tmp_path)
    assert folder.shape[0] == 4 + 4 + 4 + 2 + 1


def test_bank_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_kernel_bank(tmp_path / "missing.npy")
    (tmp_path / "bad.npy").write_bytes(b"not numpy")
    with pytest.raises(ValueError, match="bad.npy"):
        load_kernel_bank(tmp_path / "bad.npy")
    np.save(tmp_path / "neg.npy", -np.ones((2, 5, 5)))
    with pytest.raises(ValueError, match=r"neg.npy\[0\]"):
        load_kernel_bank(tmp_path / "neg.npy")
    (tmp_path / "k.txt").write_text("1 2 3")
    with pytest.raises(ValueError, match="unsupported"):
        load_kernel_bank(tmp_path / "k.txt")


def _render_whole_canvas(xs, ys, m, cx, cy, r, k):
    """The raster as a pass over every pixel: splat, row-major float64 sum, divide everything."""
    acc = np.zeros((k, k))
    splat_centred(xs, ys, m, cx, cy, fit_scale(r, k), acc)
    total = 0.0
    for v in acc.ravel():
        total += v
    return (acc / total).astype(np.float32)


@pytest.mark.parametrize("k", [9, 31, 65])
def test_render_touches_only_the_splat_yet_matches_a_whole_canvas_pass(k):
    from blurkit.kernels import _shake
    from blurkit.kernels.psf import fit_half

    rng = np.random.default_rng(k)
    buf = np.zeros((k, k))
    for trial in range(6):
        t = np.cumsum(rng.normal(size=(400, 2)) * rng.uniform(0.05, 0.8), axis=0)
        xs, ys = t[:, 0].copy(), t[:, 1].copy()
        m = int(rng.integers(2, 401))
        cx, cy, r = fit_half(xs, ys, m)
        out = np.full((k, k), np.nan, dtype=np.float32)
        _shake._render(xs, ys, m, cx, cy, r, buf, out)
        expected = _render_whole_canvas(xs, ys, m, cx, cy, r, k)
        assert np.array_equal(out.view(np.uint32), expected.view(np.uint32)), trial
        assert not buf.any(), "the accumulation buffer must be left all zero for the next kernel"
        r0, r1, c0, c1 = splat_centred(xs, ys, m, cx, cy, fit_scale(r, k), buf)
        rows, cols = np.nonzero(buf)
        assert 0 <= r0 <= rows.min() and rows.max() <= r1 < k, "every row with mass is inside the box"
        assert 0 <= c0 <= cols.min() and cols.max() <= c1 < k, "every column with mass is inside the box"
        buf[:] = 0.0
