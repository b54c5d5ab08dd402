"""``--help`` of models.train and models.predict names what ships: families, configs, checkpoints."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from models import predict, train
from models.training.families import family_names

MODELS = Path(train.__file__).resolve().parent


def _help(main, capsys: pytest.CaptureFixture[str]) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    return capsys.readouterr().out


def _example_paths(text: str) -> list[Path]:
    return [MODELS.parent / p for p in re.findall(r"(models/(?:configs|weights)/[\w.]+)", text)]


def test_train_help_lists_families_and_configs(capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(train.main, capsys)
    for family in family_names():
        assert re.search(rf"^\s+{family}\s", text, re.M), family
    configs = sorted(p.name for p in (MODELS / "configs").glob("*.toml"))
    assert configs
    for name in configs:
        assert re.search(rf"^\s+{re.escape(name)}\s", text, re.M), name
    example = [line for line in text.splitlines() if line.strip().startswith("python -m models.train")]
    assert len(example) == 1
    assert all(p.is_file() for p in _example_paths(text))


def test_predict_help_lists_checkpoints(capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(predict.main, capsys)
    weights = sorted(p.name for p in (MODELS / "weights").glob("*.pt"))
    assert weights
    for name in weights:
        assert re.search(rf"^\s+{re.escape(name)}\s", text, re.M), name
    for family in family_names():
        assert family in text
    example = [line for line in text.splitlines() if line.strip().startswith("python -m models.predict")]
    assert len(example) == 1
    assert all(p.is_file() for p in _example_paths(text))
