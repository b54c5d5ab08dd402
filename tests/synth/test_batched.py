"""The batched (CUDA) code path of ``make``, run on the CPU so that it is tested without a GPU."""

from blurkit.synth import make_dataset, read_manifest


def test_batched_path_on_the_cpu_records_sources_and_fails_items_alone(sharp_folder, tmp_path):
    """The batched (CUDA) code path, run on the CPU: same rows, same sharp images and kernels."""
    import functools

    from blurkit.ops.degrade import resolve_config
    from blurkit.synth.dataset import _run_gpu, plan_items, run_settings
    from blurkit.synth.runner import run_job

    (sharp_folder / "junk.png").write_bytes(b"junk")
    ref, out = tmp_path / "ref", tmp_path / "batched"
    config = resolve_config("deblurgan", {"length": (8.0, 20.0)})
    a = make_dataset(sharp_folder, ref, seed=4, preset="deblurgan", overrides={"length": (8.0, 20.0)}, progress=False)
    items = plan_items(sharp_folder, 4)
    b = run_job(
        out=out, items=items, settings=run_settings(4, "deblurgan", config, 1, "png", 95), fn=lambda it: {},
        fmt="png", kernel=True, progress=False,
        local_iter=functools.partial(_run_gpu, out=out, config=config, fmt="png", quality=95, device="cpu", batch=3,
                                     max_pixels=64_000_000),
    )
    assert [s for s, _ in a.errors] == [s for s, _ in b.errors] == ["junk.png"]
    da, db = read_manifest(ref), read_manifest(out)
    for col in ("key", "sharp_sha256", "kernel_sha256", "source_sha256", "source_size"):
        assert da[col].tolist() == db[col].tolist(), col
