"""Training loop: configuration, schedule, resume exactness, outputs and the CLI."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import VGG16_FILE, tiny_data

from models import load_deblurrer
from models.train import main
from models.training.config import config_from_dict, load_config, lr_factor
from models.training.loop import train

REPO = Path(__file__).resolve().parents[2]


def tiny_raw(pairs: Path, steps: int = 5, perceptual: str | None = None) -> dict[str, Any]:
    if perceptual is None:
        perceptual = "vgg16_relu3_3" if VGG16_FILE.is_file() else "none"
    return {
        "generator": {"base_channels": 4, "n_blocks": 1, "dropout": 0.5},
        "critic": {"base_channels": 4, "n_layers": 2},
        "data": tiny_data(pairs),
        "loss": {"perceptual": perceptual, "critic_steps": 2},
        "optim": {"steps": steps, "decay_start": 2, "lr": 1e-3},
        "train": {"amp": False, "log_every": 1, "val_every": 2, "ckpt_every": 100},
        "val": {"kind": "pairs", "root": str(pairs), "count": 2, "size": 16},
    }


def tiny_toml(folder: Path, pairs: Path) -> Path:
    """A tiny DeblurGAN config file for the CLI tests (data root: ``pairs.parent``), 50 steps."""
    path = folder / "tiny.toml"
    path.write_text(
        f"""
[generator]
base_channels = 4
n_blocks = 1
[critic]
base_channels = 4
n_layers = 2
[data]
crop = 16
margin = 4
batch_size = 2
num_workers = 0
epoch_size = 6
[[data.sources]]
kind = "pairs"
root = "{pairs.name}"
[loss]
perceptual = "none"
critic_steps = 1
[optim]
steps = 50
decay_start = 25
"""
    )
    return path


def _vgg() -> str | None:
    return str(VGG16_FILE) if VGG16_FILE.is_file() else None


def test_lr_factor_schedule() -> None:
    assert [lr_factor(s, 100, 50) for s in (0, 49, 50, 75, 100, 120)] == [1.0, 1.0, 1.0, 0.5, 0.0, 0.0]


def test_config_validation(pair_folder: Path) -> None:
    raw = tiny_raw(pair_folder)
    cfg = config_from_dict(raw)
    assert cfg.generator.base_channels == 4 and cfg.data.sources[0].kind == "pairs"
    with pytest.raises(ValueError, match="unknown keys"):
        config_from_dict({**raw, "loss": {"perceptual_weigth": 1.0}})
    with pytest.raises(ValueError, match="unknown sections"):
        config_from_dict({**raw, "optimizer": {}})
    with pytest.raises(ValueError, match="decay_start"):
        config_from_dict({**raw, "optim": {"steps": 5, "decay_start": 9}})
    with pytest.raises(ValueError, match="multiple of 4"):
        config_from_dict({**raw, "data": {**raw["data"], "crop": 18}})
    with pytest.raises(ValueError, match=r"\[optim\]: steps must be int, got '5'"):
        config_from_dict({**raw, "optim": {"steps": "5", "decay_start": 2}})
    with pytest.raises(ValueError, match=r"lr must be float, got True"):
        config_from_dict({**raw, "optim": {"steps": 5, "decay_start": 2, "lr": True}})
    assert config_from_dict({**raw, "optim": {"steps": 5, "decay_start": 2, "lr": 1}}).optim.lr == 1
    with pytest.raises(FileNotFoundError, match="absent.toml"):
        load_config(pair_folder / "absent.toml")
    with pytest.raises(ValueError, match="pixel must be"):
        config_from_dict({**raw, "loss": {"pixel": "huber"}})
    with pytest.raises(ValueError, match="weights must be >= 0"):
        config_from_dict({**raw, "loss": {"pixel_weight": -1.0}})
    with pytest.raises(ValueError, match="content_warmup must be >= 0"):
        config_from_dict({**raw, "loss": {"content_warmup": -1}})
    with pytest.raises(ValueError, match="adversarial_weight must be >= 0"):
        config_from_dict({**raw, "loss": {"adversarial_weight": -0.5}})


@pytest.mark.parametrize("pixel", ["mse", "l1"])
def test_generator_loss_terms(pixel: str) -> None:
    """loss_g = adversarial_weight · adversarial + perceptual_weight · perceptual + pixel_weight ·
    pixel (the paper: adversarial 1, pixel 0)."""
    from models.archs.deblurgan import Critic, CriticConfig, Generator, GeneratorConfig
    from models.families.deblurgan import DeblurGANLossConfig, train_step
    from models.losses import pixel_loss
    from models.training.families import StepContext

    torch.manual_seed(0)
    gen = Generator(GeneratorConfig(base_channels=4, n_blocks=1, dropout=0.0))
    torch.nn.init.normal_(gen.head[1].weight, 0.0, 0.05)  # away from the identity start
    critic = Critic(CriticConfig(base_channels=4, n_layers=2))
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    y = (x + 0.3 * torch.randn(2, 3, 16, 16)).clamp(-1, 1)

    def fake_perceptual(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return ((a - b) ** 2).mean() * 3.0

    logs = []
    for weight, adv_weight in ((0.0, 1.0), (7.0, 0.5)):
        g = Generator(gen.config)
        g.load_state_dict(gen.state_dict())
        opt_g = torch.optim.Adam(g.parameters(), lr=1e-4)
        opt_d = torch.optim.Adam(critic.parameters(), lr=0.0)  # the critic stays fixed
        loss = DeblurGANLossConfig(
            perceptual="none",
            perceptual_weight=2.0,
            critic_steps=1,
            pixel=pixel,
            pixel_weight=weight,
            adversarial_weight=adv_weight,
        )
        ctx = StepContext(g, opt_g, loss, critic=critic, opt_d=opt_d, perceptual=fake_perceptual)
        fake, log = train_step(ctx, (x, y))
        expected_pix = float(pixel_loss(fake.detach(), y, pixel))
        assert log["loss_pixel"] == pytest.approx(expected_pix, rel=1e-5)
        assert log["loss_g"] == pytest.approx(
            adv_weight * log["loss_adv"] + 2.0 * log["loss_perceptual"] + weight * expected_pix,
            rel=1e-5,
        )
        logs.append(log)
    assert logs[0]["loss_pixel"] > 0 and logs[1]["loss_g"] > logs[0]["loss_g"]


def test_content_warmup_trains_no_critic_then_hands_over(pair_folder: Path, tmp_path: Path) -> None:
    """The first ``content_warmup`` steps skip the critic; the critic then trains; resume across
    the hand-over reproduces the same steps."""
    raw = tiny_raw(pair_folder, steps=5, perceptual="none")
    raw["loss"] = {**raw["loss"], "pixel_weight": 1.0, "content_warmup": 3}
    cfg = config_from_dict(raw)
    full = train(cfg, tmp_path / "full", device="cpu", progress=False)
    assert [h["step"] for h in full.history] == [1, 2, 3, 4, 5]
    for h in full.history[:3]:
        assert h["loss_d"] != h["loss_d"] and h["loss_adv"] != h["loss_adv"]  # NaN: not computed
        assert h["loss_g"] == pytest.approx(h["loss_pixel"], rel=1e-6)
    for h in full.history[3:]:
        assert all(torch.isfinite(torch.tensor(h[k])) for k in ("loss_d", "gp", "loss_adv"))
        assert h["loss_g"] == pytest.approx(h["loss_adv"] + h["loss_pixel"], rel=1e-5)

    # the critic's optimiser has not stepped during the warm-up, and has after it
    warm = train(cfg, tmp_path / "warm", device="cpu", progress=False, stop_at=3)
    assert warm.step == 3
    assert torch.load(tmp_path / "warm" / "checkpoint.pt", weights_only=False)["opt_d"]["state"] == {}
    assert torch.load(tmp_path / "full" / "checkpoint.pt", weights_only=False)["opt_d"]["state"] != {}

    assert train(cfg, tmp_path / "part", device="cpu", progress=False, stop_at=2).step == 2
    rest = train(cfg, tmp_path / "part", device="cpu", progress=False, resume=True)
    keys = ["loss_d", "gp", "loss_adv", "loss_g", "l1"]
    for a, b in zip(full.history[2:], rest.history, strict=True):
        assert [a[k] for k in keys] == pytest.approx([b[k] for k in keys], rel=0, abs=0, nan_ok=True)


@pytest.mark.parametrize("name", ["deblurgan.toml", "deblurgan_small.toml", "deblurgan_cpu.toml"])
def test_shipped_configs_parse(name: str) -> None:
    cfg = load_config(REPO / "models" / "configs" / name)
    assert cfg.loss.gp_weight == 10.0 and cfg.optim.betas == (0.5, 0.999)
    assert cfg.data.synthetic_to_real == 2.0
    if name != "deblurgan.toml":  # the short-budget recipe (docs/models.md)
        assert cfg.loss.perceptual_weight == 10.0 and cfg.optim.lr == 5e-4
        assert cfg.loss.pixel_weight > 0 and cfg.loss.critic_steps == 1
        assert 0 < cfg.loss.content_warmup < cfg.optim.decay_start < cfg.optim.steps
    else:  # the paper's loss weights and optimiser
        assert cfg.loss.perceptual_weight == 100.0 and cfg.optim.lr == 1e-4
        assert cfg.loss.content_warmup == 0 and cfg.loss.adversarial_weight == 1.0
    if name == "deblurgan.toml":
        assert (cfg.generator.base_channels, cfg.generator.n_blocks, cfg.critic.n_layers) == (64, 9, 3)
        assert cfg.loss.pixel_weight == 0.0


def test_resume_reproduces_next_steps_exactly(pair_folder: Path, tmp_path: Path) -> None:
    cfg = config_from_dict(tiny_raw(pair_folder))
    full = train(cfg, tmp_path / "full", device="cpu", vgg_weights=_vgg(), progress=False)
    assert full.finished and full.step == 5

    part = train(cfg, tmp_path / "part", device="cpu", vgg_weights=_vgg(), progress=False, stop_at=3)
    assert not part.finished and part.step == 3
    rest = train(cfg, tmp_path / "part", device="cpu", vgg_weights=_vgg(), progress=False, resume=True)
    assert rest.finished and [h["step"] for h in rest.history] == [4, 5]
    keys = ["loss_d", "gp", "loss_adv", "loss_perceptual", "loss_g", "l1", "lr"]
    for a, b in zip(full.history[3:], rest.history, strict=True):
        assert {k: a[k] for k in keys} == {k: b[k] for k in keys}
    g_full = load_deblurrer(str(tmp_path / "full" / "generator.pt"))
    g_rest = load_deblurrer(str(tmp_path / "part" / "generator.pt"))
    x = torch.rand(1, 3, 20, 20)
    assert torch.equal(g_full(x), g_rest(x))

    # log rows were not duplicated by the resume; validation and samples were written
    with (tmp_path / "part" / "log.csv").open() as f:
        assert [int(r["step"]) for r in csv.DictReader(f)] == list(range(1, 6))
    with (tmp_path / "part" / "val.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == [2, 4, 5]
    assert all(float(r["psnr_blurred"]) > 10 for r in rows)
    assert (tmp_path / "part" / "samples" / "step_0000004.png").is_file()
    # the training checkpoint itself loads as a deblurrer too
    assert load_deblurrer(str(tmp_path / "part" / "checkpoint.pt"))(x).shape == x.shape


def test_resume_without_checkpoint_fails(pair_folder: Path, tmp_path: Path) -> None:
    cfg = config_from_dict(tiny_raw(pair_folder, perceptual="none"))
    with pytest.raises(FileNotFoundError, match="checkpoint.pt"):
        train(cfg, tmp_path / "run", device="cpu", resume=True, progress=False)


def test_cli_max_minutes_stops_cleanly(
    pair_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg_path = tiny_toml(tmp_path, pair_folder)
    out = tmp_path / "run"
    rc = main(
        [
            "--config",
            str(cfg_path),
            "--out",
            str(out),
            "--data-root",
            str(pair_folder.parent),
            "--device",
            "cpu",
            "--max-minutes",
            "0",
            "--no-progress",
        ]
    )
    assert rc == 0
    assert "stopped at step 1" in capsys.readouterr().out
    assert (out / "checkpoint.pt").is_file() and (out / "generator.pt").is_file()
    rc = main(
        [
            "--config",
            str(cfg_path),
            "--out",
            str(tmp_path / "bad"),
            "--data-root",
            str(tmp_path / "nowhere"),
            "--device",
            "cpu",
        ]
    )
    assert rc == 2
    assert "nowhere" in capsys.readouterr().err


def test_cli_settings_and_no_silent_overwrite(
    pair_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg_path = tiny_toml(tmp_path, pair_folder)
    out = tmp_path / "run"
    common = ["--config", str(cfg_path), "--data-root", str(pair_folder.parent), "--device", "cpu"]
    sets = ["--set", "optim.steps=2", "--set", "optim.decay_start=1", "--set", "loss.critic_steps=2"]
    assert main([*common, "--out", str(out), "--no-progress", *sets, "--set", "optim.betas=[0.9, 0.99]"]) == 0
    ck = torch.load(out / "checkpoint.pt", map_location="cpu", weights_only=True)
    assert ck["step"] == 2  # the settings took effect and are what the checkpoint records
    assert ck["config"]["optim"] == {"steps": 2, "decay_start": 1, "betas": [0.9, 0.99]}
    assert ck["config"]["loss"] == {"perceptual": "none", "critic_steps": 2}
    before = (out / "checkpoint.pt").read_bytes()
    capsys.readouterr()

    # the same --out again without --resume: refused, the finished run untouched
    assert main([*common, "--out", str(out), "--no-progress", *sets]) == 2
    assert "already holds a training run" in capsys.readouterr().err
    assert (out / "checkpoint.pt").read_bytes() == before

    for bad, message in (
        ("optim.lr", "SECTION.KEY=VALUE"),
        ("lr=1e-3", "SECTION.KEY=VALUE"),
        ("loss.perceptual_weigth=1", "unknown keys"),
        ("data.sources=[]", "config file"),
        ("optim.steps=many", "steps"),
    ):
        assert main([*common, "--out", str(tmp_path / "bad"), "--set", bad]) == 2, bad
        assert message in capsys.readouterr().err, bad
    assert not (tmp_path / "bad" / "checkpoint.pt").exists()


def test_apply_overrides_parses_toml_values() -> None:
    from models.training.config import apply_overrides

    raw = {"optim": {"lr": 1e-4}, "loss": {"pixel": "mse"}}
    got = apply_overrides(raw, ["optim.lr=5e-4", "optim.betas = [0.5, 0.999]", "loss.pixel=l1", "train.amp=false"])
    assert got == {
        "optim": {"lr": 5e-4, "betas": [0.5, 0.999]},
        "loss": {"pixel": "l1"},
        "train": {"amp": False},
    }
    assert raw == {"optim": {"lr": 1e-4}, "loss": {"pixel": "mse"}}  # the input is not changed
    assert load_config(REPO / "models" / "configs" / "svrnn_small.toml", ["optim.lr=2e-4"]).optim.lr == 2e-4


def test_resume_with_a_changed_learning_rate_applies_it(
    pair_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = tiny_raw(pair_folder, steps=6, perceptual="none")
    raw["optim"]["decay_start"] = 3
    cfg = config_from_dict(raw)
    part = train(cfg, tmp_path / "run", device="cpu", progress=False, stop_at=2)
    assert [h["lr"] for h in part.history] == pytest.approx([1e-3, 1e-3])
    capsys.readouterr()
    raw["optim"]["lr"] = 2e-4
    rest = train(config_from_dict(raw), tmp_path / "run", device="cpu", progress=False, resume=True)
    assert "optim.lr is 0.0002 (the checkpoint's was 0.001)" in capsys.readouterr().err
    # steps 3..6 run at the rates a run started with the new rate has there (linear to 0 from step 3)
    fresh = train(config_from_dict(raw), tmp_path / "fresh", device="cpu", progress=False)
    assert [h["lr"] for h in rest.history] == pytest.approx([h["lr"] for h in fresh.history[2:]])
    assert [h["lr"] for h in rest.history] == pytest.approx([2e-4 * lr_factor(s, 6, 3) for s in range(3, 7)])
    # an unchanged rate resumes silently and exactly (see test_resume_reproduces_next_steps_exactly)
    again = train(config_from_dict(raw), tmp_path / "run", device="cpu", progress=False, resume=True)
    assert again.finished and "optim.lr" not in capsys.readouterr().err
