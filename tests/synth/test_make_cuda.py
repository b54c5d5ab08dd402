import numpy as np
import pytest
import torch
from PIL import Image

from blurkit.io import write_image
from blurkit.synth import make_dataset, read_manifest

pytestmark = pytest.mark.gpu


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_batches_match_cpu_and_fail_items_alone(sharp_folder, tmp_path):
    write_image(sharp_folder / "tiny.png", np.full((6, 6, 3), 0.5, np.float32))
    write_image(sharp_folder / "twin.png", np.random.default_rng(1).random((40, 56, 3)).astype(np.float32))
    cpu, gpu = tmp_path / "cpu", tmp_path / "gpu"
    settings = {"seed": 4, "preset": "deblurgan", "overrides": {"length": (8.0, 20.0)}, "progress": False}
    a = make_dataset(sharp_folder, cpu, **settings)
    b = make_dataset(sharp_folder, gpu, device="cuda", batch=4, **settings)
    assert [s for s, _ in a.errors] == [s for s, _ in b.errors] == ["tiny.png"]
    assert "smaller than its" in b.errors[0][1]
    assert a.written == b.written == 6
    da, dg = read_manifest(cpu), read_manifest(gpu)
    assert da["key"].tolist() == dg["key"].tolist()
    assert (da["sharp_sha256"] == dg["sharp_sha256"]).all()
    assert (da["kernel_sha256"] == dg["kernel_sha256"]).all()
    for rel in da["blur"]:
        x = np.asarray(Image.open(cpu / rel).convert("RGB"), dtype=int)
        y = np.asarray(Image.open(gpu / rel).convert("RGB"), dtype=int)
        assert np.abs(x - y).max() <= 1, rel
