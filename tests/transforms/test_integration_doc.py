"""The examples of docs/integration.md run as they are, in order, in a fresh folder."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "integration.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


@pytest.mark.slow
def test_integration_doc_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("albumentations", reason="albumentations is not installed")
    pytest.importorskip("torchvision", reason="torchvision is not installed")
    blocks = _blocks()
    assert len(blocks) == 3
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    for code in blocks:
        exec(compile(code, str(DOC), "exec"), ns)  # the documented examples themselves
    assert ns["blurred"].shape == ns["sharp"].shape
    assert ns["blurred_batch"].shape == (8, 3, 128, 128)
    assert ns["item"]["blur"].shape == (3, 128, 128)
    assert not np.array_equal(np.asarray(ns["out"]["image"]), np.asarray(ns["out"]["sharp"]))
