"""The family registry: a family registered from outside ``models/`` trains through the normal loop,
resumes, loads as a deblurrer, shows in ``--help`` and is listed by ``benchmarks.model_compare`` —
with no change anywhere else."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from conftest import tiny_data
from torch import nn

from benchmarks import model_compare
from models import load_deblurrer
from models.checkpoint import network_names, register_network, unregister_network
from models.losses import pixel_loss
from models.tiling import NetworkDeblurrer
from models.training.config import config_from_dict
from models.training.families import (
    Batch,
    Comparison,
    ModelFamily,
    StepContext,
    StepResult,
    family_names,
    get_family,
    register_family,
    unregister_family,
)
from models.training.loop import train

NAME = "tinyfam"


@dataclass(frozen=True)
class TinyConfig:
    channels: int = 4


class TinyNet(nn.Module):
    """Two convolutions and a residual: enough to train a few steps."""

    def __init__(self, config: TinyConfig = TinyConfig()) -> None:
        super().__init__()
        self.config = config
        c = config.channels
        self.body = nn.Sequential(nn.Conv2d(3, c, 3, padding=1), nn.ReLU(), nn.Conv2d(c, 3, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x + self.body(x)).clamp(-1, 1)


class TinyDeblurrer(NetworkDeblurrer):
    size_multiple = 1
    min_size = 1


@dataclass(frozen=True)
class TinyLossConfig:
    weight: float = 1.0


def tiny_step(ctx: StepContext, batch: Batch) -> StepResult:
    x, y = batch
    ctx.opt_g.zero_grad(set_to_none=True)
    with ctx.autocast():
        fake = ctx.generator(x)
    loss = ctx.loss.weight * pixel_loss(fake, y, "l1")
    loss.backward()
    ctx.opt_g.step()
    return fake, {"loss_g": float(loss.detach())}


def _raw(pairs: Path, steps: int = 3) -> dict:
    return {
        "model": {"name": NAME},
        "generator": {"channels": 3},
        "data": tiny_data(pairs),
        "loss": {"weight": 2.0},
        "optim": {"steps": steps, "decay_start": 1, "lr": 1e-2},
        "train": {"amp": False, "log_every": 1, "val_every": 2, "ckpt_every": 100},
        "val": {"kind": "pairs", "root": str(pairs), "count": 2, "size": 16},
    }


@pytest.fixture
def tiny_family(tmp_path: Path) -> Iterator[ModelFamily]:
    """The test family, registered for one test (its network and its comparison config included)."""
    small = tmp_path / f"{NAME}_small.toml"
    small.write_text(
        f'[model]\nname = "{NAME}"\n[[data.sources]]\nkind = "pairs"\nroot = "pairs"\n'
        "[data]\ncrop = 16\nbatch_size = 2\n[optim]\nsteps = 20\ndecay_start = 10\n"
    )
    network = register_network(NAME, TinyNet, TinyConfig, TinyDeblurrer)
    try:
        yield register_family(
            ModelFamily(
                name=NAME,
                label="Tiny test family",
                summary="two convolutions, L1 loss",
                network=network,
                loss_config=TinyLossConfig,
                train_step=tiny_step,
                log_fields=("step", "lr", "loss_g", "l1"),
                comparison=Comparison(small, small, published="-"),
            )
        )
    finally:
        unregister_family(NAME)
        unregister_network(NAME)


def test_a_family_registered_here_trains_resumes_and_loads(
    tiny_family: ModelFamily, pair_folder: Path, tmp_path: Path
) -> None:
    cfg = config_from_dict(_raw(pair_folder))
    assert cfg.model == NAME and cfg.generator == TinyConfig(3) and cfg.loss == TinyLossConfig(2.0)
    full = train(cfg, tmp_path / "full", device="cpu", progress=False)
    assert full.finished and [h["step"] for h in full.history] == [1, 2, 3]
    assert all(h["loss_g"] > 0 for h in full.history)
    with (tmp_path / "full" / "log.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["step", "lr", "loss_g", "l1"] and len(rows) == 3
    assert (tmp_path / "full" / "val.csv").is_file()

    assert train(cfg, tmp_path / "part", device="cpu", progress=False, stop_at=1).step == 1
    rest = train(cfg, tmp_path / "part", device="cpu", progress=False, resume=True)
    assert [h["loss_g"] for h in rest.history] == [h["loss_g"] for h in full.history[1:]]

    x = torch.rand(1, 3, 9, 11)
    for name in ("generator.pt", "checkpoint.pt"):
        model = load_deblurrer(str(tmp_path / "full" / name))
        assert isinstance(model, TinyDeblurrer) and model.name == f"{NAME}:{Path(name).stem}"
        assert model(x).shape == x.shape
    with pytest.raises(ValueError, match="unknown keys"):
        config_from_dict({**_raw(pair_folder), "loss": {"wieght": 1.0}})


def test_the_listings_see_a_registered_family(tiny_family: ModelFamily, tmp_path: Path) -> None:
    from models import train as train_cli

    assert NAME in family_names() and get_family(NAME) is tiny_family and NAME in network_names()
    assert NAME in train_cli.epilog()
    assert NAME in model_compare.comparable_models()
    assert model_compare.labels()[NAME] == "Tiny test family"
    assert model_compare.small_config(NAME, 7, ["loss.weight=3"]).optim.steps == 7
    assert model_compare.parse_settings([f"{NAME}.loss.weight=3"], [NAME]) == {NAME: ["loss.weight=3"]}
    ckpt = model_compare.paper_size_checkpoint(NAME, tmp_path)
    assert isinstance(load_deblurrer(str(ckpt)), TinyDeblurrer)


def test_registry_refuses_a_second_family_of_a_name() -> None:
    family = get_family("svrnn")
    with pytest.raises(ValueError, match="already registered"):
        register_family(family)
    with pytest.raises(ValueError, match="already registered"):
        register_network("svrnn", TinyNet, TinyConfig, TinyDeblurrer)
    assert NAME not in family_names()  # the fixture of the other tests cleaned up
    with pytest.raises(ValueError, match="not one of"):
        config_from_dict({"model": {"name": NAME}})
