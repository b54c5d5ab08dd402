"""AlbumentationsBlur inside real A.Compose pipelines: alignment, seeding, equality with blur_image."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

A = pytest.importorskip("albumentations", reason="albumentations is not installed (pip install 'blurkit[albumentations]')")

import blurkit.transforms as bt  # noqa: E402
from blurkit.io import to_uint  # noqa: E402
from blurkit.ops.degrade import resolve_config, sample_degradation  # noqa: E402
from blurkit.synth import blur_image  # noqa: E402
from blurkit.transforms import AlbumentationsBlur, apply_blur  # noqa: E402

STRONG = {"length": 25}


def blob_image(h: int = 96, w: int = 112, centre: tuple[float, float] = (50.0, 57.0)) -> np.ndarray:
    """A Gaussian blob on a dark background, float32 RGB."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    g = np.exp(-((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2) / (2 * 3.0**2))
    return np.repeat(g[:, :, None], 3, axis=2).astype(np.float32)


def centroid(img: np.ndarray) -> np.ndarray:
    m = img.astype(np.float64).mean(axis=2)
    yy, xx = np.mgrid[0 : m.shape[0], 0 : m.shape[1]]
    return np.array([(m * yy).sum(), (m * xx).sum()]) / m.sum()


def pipeline(seed: int | None, preset: str = "deblurgan", overrides: dict | None = None, crop: int = 80) -> A.Compose:
    return A.Compose(
        [
            A.RandomCrop(crop, crop),
            A.HorizontalFlip(p=0.5),
            A.VerticalFlip(p=0.5),
            AlbumentationsBlur(preset, STRONG if overrides is None else overrides),
        ],
        additional_targets={"sharp": "image"},
        seed=seed,
        save_applied_params=True,
    )


def blur_params(out: dict) -> dict:
    (params,) = [p for name, p in out["applied_transforms"] if name == "AlbumentationsBlur"]
    return params


def test_paired_pipeline_keeps_sharp_and_mask_aligned() -> None:
    img = blob_image()
    mask = (img[:, :, 0] > 0.5).astype(np.uint8)
    aug = pipeline(seed=3)
    for _ in range(4):
        out = aug(image=img, sharp=img.copy(), mask=mask)
        blurred, sharp, m = out["image"], out["sharp"], out["mask"]
        assert blurred.shape == sharp.shape == (80, 80, 3)
        assert not np.allclose(blurred, sharp, atol=1e-3)  # it did blur
        # the sharp target got the crop and flips but no blur; the mask stays on the blob
        np.testing.assert_array_equal(m, (sharp[:, :, 0] > 0.5).astype(np.uint8))
        # centred kernels: the blurred blob has the sharp blob's centroid
        np.testing.assert_allclose(centroid(blurred), centroid(sharp), atol=0.05)


def test_output_equals_blur_image_for_the_recorded_seed() -> None:
    img = np.random.default_rng(0).random((64, 72, 3), dtype=np.float32)
    out = pipeline(seed=11, preset="realistic", overrides={}, crop=48)(image=img, sharp=img.copy())
    params = blur_params(out)
    expected, kernel, record = blur_image(out["sharp"], params["seed"], "realistic")
    np.testing.assert_array_equal(out["image"], expected)
    np.testing.assert_array_equal(params["kernel"], kernel)
    assert params["record"] == record


@pytest.mark.parametrize("preset", ["deblurgan", "realistic"])
def test_uint8_images_give_the_bytes_of_the_float_blur_rounded(preset: str) -> None:
    """uint8 images run the 8-bit chain; it must match blurring the float image and rounding."""
    img = to_uint(np.random.default_rng(1).random((40, 40, 3)))
    t = AlbumentationsBlur(preset, {"length": 11})
    t.set_random_seed(5)
    out = t(image=img)["image"]
    params = t.get_applied_params()
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, to_uint(blur_image(img / np.float32(255), params["seed"], preset, {"length": 11})[0]))


def test_same_seed_same_pipeline_output_and_different_seed_differs() -> None:
    img = np.random.default_rng(2).random((96, 96, 3), dtype=np.float32)
    runs = {}
    for name, seed in [("a", 7), ("b", 7), ("c", 8)]:
        aug = pipeline(seed=seed, preset="realistic", overrides={})
        runs[name] = [aug(image=img, sharp=img)["image"] for _ in range(3)]
    for x, y in zip(runs["a"], runs["b"], strict=True):
        np.testing.assert_array_equal(x, y)
    assert not any(np.array_equal(x, y) for x, y in zip(runs["a"], runs["c"], strict=True))
    # successive calls draw new kernels
    assert not np.array_equal(runs["a"][0], runs["a"][1])


def test_get_params_returns_the_drawn_record() -> None:
    t = AlbumentationsBlur("realistic", {"exposure": (0.5, 1.0)})
    t.set_random_seed(0)
    p1, p2 = t.get_params(), t.get_params()
    assert set(p1) == {"seed", "kernel", "record"}
    assert p1["seed"] != p2["seed"]
    for key in ("length", "exposure", "shot", "read", "noise_seed", "boost", "jpeg_quality"):
        assert key in p1["record"]
    assert p1["record"]["exposure"] in (0.5, 1.0)
    ref = sample_degradation(p1["seed"], resolve_config("realistic", {"exposure": (0.5, 1.0)}))
    np.testing.assert_array_equal(p1["kernel"], ref.kernel)
    assert p1["record"] == ref.record


def test_wrapper_equals_function() -> None:
    img = np.random.default_rng(3).random((30, 34, 3), dtype=np.float32)
    t = AlbumentationsBlur("line")
    t.set_random_seed(1)
    out = t(image=img)["image"]
    p = t.get_applied_params()
    np.testing.assert_array_equal(out, apply_blur(img, p["kernel"], p["record"]))


def test_probability_zero_leaves_the_image() -> None:
    img = np.random.default_rng(4).random((20, 20, 3), dtype=np.float32)
    out = A.Compose([AlbumentationsBlur("deblurgan", p=0.0)], seed=0)(image=img)["image"]
    np.testing.assert_array_equal(out, img)


def test_bboxes_and_keypoints_pass_unchanged() -> None:
    img = blob_image(64, 64, (32.0, 32.0))
    aug = A.Compose(
        [A.HorizontalFlip(p=0.0), AlbumentationsBlur("deblurgan", STRONG)],
        bbox_params=A.BboxParams(format="pascal_voc", label_fields=["labels"]),
        keypoint_params=A.KeypointParams(format="xy"),
        seed=0,
    )
    out = aug(image=img, bboxes=[(20, 20, 44, 44)], labels=[1], keypoints=[(32, 32)])
    np.testing.assert_allclose(np.asarray(out["bboxes"]), [[20, 20, 44, 44]])
    np.testing.assert_allclose(np.asarray(out["keypoints"])[:, :2], [[32, 32]])


def test_serialises_its_arguments() -> None:
    t = AlbumentationsBlur("line", {"length": (5, 9)})
    d = t.to_dict()["transform"]
    assert d["preset"] == "line" and d["overrides"] == {"length": (5, 9)}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"preset": "nope"}, "unknown preset"), ({"overrides": {"lenght": 3}}, "lenght")],
)
def test_bad_settings_fail_at_construction(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AlbumentationsBlur(**kwargs)


def test_gray_image_is_refused() -> None:
    t = AlbumentationsBlur("deblurgan")
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        t(image=np.zeros((20, 20), np.float32))


def test_doctests() -> None:
    import blurkit.transforms._albumentations as mod

    for m in (bt, mod):
        result = doctest.testmod(m, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        assert result.failed == 0 and result.attempted > 0
