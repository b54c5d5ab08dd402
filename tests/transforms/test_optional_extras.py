"""blurkit.transforms imports, and its functions work, without albumentations or torchvision."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_functions_work_and_classes_name_the_extra_without_the_libraries() -> None:
    code = textwrap.dedent(
        """
        import sys
        sys.modules["albumentations"] = None   # as if not installed
        sys.modules["torchvision"] = None
        import numpy as np
        import blurkit.transforms as bt
        from blurkit.synth import blur_image
        img = np.random.default_rng(0).random((20, 24, 3), dtype=np.float32)
        d = bt.sample_blur(4, bt.BlurConfig("deblurgan", {"length": 7}))
        out = bt.apply_blur(img, d.kernel, d.record)
        assert (out == blur_image(img, 4, "deblurgan", {"length": 7})[0]).all()
        for name, extra in (("AlbumentationsBlur", "albumentations"), ("TorchvisionBlur", "torchvision")):
            try:
                getattr(bt, name)
            except ImportError as e:
                assert f"blurkit[{extra}]" in str(e), e
            else:
                raise AssertionError(name + " imported without its library")
        print("ok")
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == "ok"
