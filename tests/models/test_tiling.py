"""Padding and tiled inference: local networks give exactly the untiled result."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from models.tiling import pad_to_multiple, restore_padded, restore_tiled


def _local_net(x: torch.Tensor) -> torch.Tensor:
    """A 5×5 box filter (receptive radius 2) plus a pointwise nonlinearity."""
    k = torch.full((x.shape[1], 1, 5, 5), 1 / 25)
    return torch.tanh(F.conv2d(F.pad(x, (2, 2, 2, 2), mode="replicate"), k, groups=x.shape[1]) * 3)


@pytest.mark.parametrize(("h", "w"), [(37, 53), (64, 64), (3, 5)])
def test_pad_to_multiple(h: int, w: int) -> None:
    x = torch.rand(2, 3, h, w)
    y, hw = pad_to_multiple(x, 4, min_size=8)
    assert hw == (h, w)
    assert y.shape[-2] % 4 == 0 and y.shape[-1] % 4 == 0 and min(y.shape[-2:]) >= 8
    assert torch.equal(y[..., :h, :w], x)


def test_restore_padded_crops_back() -> None:
    x = torch.rand(1, 3, 37, 53)
    seen = []

    def net(t: torch.Tensor) -> torch.Tensor:
        seen.append(tuple(t.shape[-2:]))
        return t * 2

    y = restore_padded(net, x, 4)
    assert seen == [(40, 56)]
    torch.testing.assert_close(y, x * 2)


def test_tiled_equals_full_for_local_network() -> None:
    x = torch.rand(1, 3, 100, 131)
    full = _local_net(x)
    tiled = restore_tiled(_local_net, x, tile=48, overlap=16, multiple=4)
    torch.testing.assert_close(tiled, full, atol=1e-6, rtol=1e-6)


def test_tiled_small_image_is_one_tile() -> None:
    x = torch.rand(2, 3, 20, 30)
    torch.testing.assert_close(restore_tiled(_local_net, x, 64, 16, 4), restore_padded(_local_net, x, 4))


def test_tiled_bad_arguments() -> None:
    with pytest.raises(ValueError, match="overlap"):
        restore_tiled(_local_net, torch.rand(1, 3, 10, 10), tile=8, overlap=8, multiple=4)


@pytest.mark.parametrize("budget", [1, 3 * 40 * 40 * 2, 1 << 20])
def test_tiles_stacked_in_batches_give_the_same_result(budget: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows run stacked (as many as fit in the pixel budget); one at a time gives the same image."""
    import models.tiling as tiling

    calls: list[int] = []

    def net(x: torch.Tensor) -> torch.Tensor:
        calls.append(x.shape[0])
        # per-item normalisation: any mixing of batch items would change the result
        return (x - x.mean(dim=(1, 2, 3), keepdim=True)) * torch.sigmoid(x)

    x = torch.rand(2, 3, 70, 110, generator=torch.Generator().manual_seed(0))
    monkeypatch.setattr(tiling, "TILE_BATCH_PIXELS", 1)
    one_by_one = restore_tiled(net, x, 40, 8, 4)
    windows = len(calls)
    assert windows == 2 * 4 and set(calls) == {2}  # 70 px: 2 rows of windows, 110 px: 4 columns
    calls.clear()
    monkeypatch.setattr(tiling, "TILE_BATCH_PIXELS", budget)
    stacked = restore_tiled(net, x, 40, 8, 4)
    per_call = max(1, budget // (40 * 40 * 2))
    assert calls == [2 * min(per_call, windows - k) for k in range(0, windows, per_call)]
    torch.testing.assert_close(stacked, one_by_one, rtol=0, atol=1e-6)


def test_scale_ensemble_of_one_scale_is_the_plain_restoration() -> None:
    from models.tiling import restore_scales

    x = torch.rand(1, 3, 30, 45)
    torch.testing.assert_close(restore_scales(_local_net, x, (1.0,)), _local_net(x))


def test_scale_ensemble_averages_full_and_reduced_resolution_estimates() -> None:
    from models.tiling import restore_scales

    x = torch.rand(2, 3, 36, 48)
    seen: list[tuple[int, int]] = []

    def net(t: torch.Tensor) -> torch.Tensor:
        seen.append(tuple(t.shape[-2:]))
        return _local_net(t)

    y = restore_scales(net, x, (1.0, 3.0))
    assert seen == [(36, 48), (12, 16)]
    small = F.interpolate(x, size=(12, 16), mode="area")
    third = x + F.interpolate(_local_net(small) - small, size=(36, 48), mode="bicubic", align_corners=False)
    torch.testing.assert_close(y, 0.5 * (_local_net(x) + third))
    # a network that changes nothing leaves the image unchanged at every scale
    torch.testing.assert_close(restore_scales(lambda t: t, x, (1.0, 2.0, 3.0)), x)


@pytest.mark.parametrize("bad", [[], [0.5], [1.0, 0.0], ["x"], 3])
def test_bad_scales_are_refused(bad: object) -> None:
    from models.archs.nafnet import NAFNetConfig
    from models.tiling import check_scales

    with pytest.raises(ValueError, match="scales"):
        check_scales(bad)
    with pytest.raises(ValueError, match="scales"):
        NAFNetConfig(scales=bad)  # type: ignore[arg-type]


def test_nafnet_deblurrer_uses_the_configured_scales() -> None:
    from conftest import randomize

    from models.archs.nafnet import NAFNet, NAFNetConfig
    from models.families.nafnet import NAFNetDeblurrer

    net = NAFNet(NAFNetConfig(width=4, enc_blocks=(1,), middle_blocks=1, dec_blocks=(1,), scales=(1.0, 3.0)))
    randomize(net, std=0.05)
    x = torch.rand(1, 3, 48, 60)
    both = NAFNetDeblurrer(net)
    assert both.scales == (1.0, 3.0)
    full = NAFNetDeblurrer(net, scales=(1.0,))(x)
    third = NAFNetDeblurrer(net, scales=(3.0,))(x)
    inside = (full > 0) & (full < 1) & (third > 0) & (third < 1)  # each is clamped to [0, 1] on its own
    assert inside.float().mean() > 0.9
    torch.testing.assert_close(both(x)[inside], (0.5 * (full + third))[inside], atol=1e-5, rtol=0)
    assert not torch.allclose(full, third, atol=1e-3)
