"""The batched (CUDA) code path of ``make``, run on the CPU so that it is tested without a GPU."""

from blurkit.synth import make_dataset, read_manifest


def test_batched_path_on_the_cpu_records_sources_and_fails_items_alone(sharp_folder, tmp_path):
    """The batched (CUDA) code path, run on the CPU: same rows, same sharp images and kernels."""
    import functools

    from blurkit.ops.degrade import resolve_config
    from blurkit.synth import JobOptions
    from blurkit.synth.blurring import blur_batched
    from blurkit.synth.items import plan_items
    from blurkit.synth.job import Job
    from blurkit.synth.make import run_settings
    from blurkit.synth.outputs import PairFormat
    from blurkit.synth.runner import run_job

    (sharp_folder / "junk.png").write_bytes(b"junk")
    ref, out = tmp_path / "ref", tmp_path / "batched"
    config = resolve_config("deblurgan", {"length": (8.0, 20.0)})
    a = make_dataset(sharp_folder, ref, seed=4, preset="deblurgan", overrides={"length": (8.0, 20.0)}, progress=False)
    items = plan_items(sharp_folder, 4)
    b = run_job(
        Job(
            out=out, items=items, settings=run_settings(4, "deblurgan", config, 1, JobOptions()), fn=lambda it: {},
            kernel=True,
            local_iter=functools.partial(blur_batched, out=out, config=config, form=PairFormat("png", 95), device="cpu",
                                         batch=3, max_pixels=64_000_000),
        ),
        JobOptions(progress=False),
    )
    assert [s for s, _ in a.errors] == [s for s, _ in b.errors] == ["junk.png"]
    da, db = read_manifest(ref), read_manifest(out)
    for col in ("key", "sharp_sha256", "kernel_sha256", "source_sha256", "source_size"):
        assert da[col].tolist() == db[col].tolist(), col
