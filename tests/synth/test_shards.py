import pandas as pd
import pytest
from typer.testing import CliRunner

from blurkit.cli import app
from blurkit.synth import make_dataset, read_manifest
from blurkit.synth.shards import merge_shards, parse_shard, shard_of

runner = CliRunner()
SMALL = {"length": (3.0, 8.0)}


def _tree(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _pairs(root):
    return {k: v for k, v in _tree(root).items() if k.split("/")[0] in ("blur", "sharp", "kernels", "meta")}


def test_shards_partition_the_job_and_merge_to_the_unsharded_run(sharp_folder, tmp_path):
    ref, out = tmp_path / "ref", tmp_path / "sharded"
    make_dataset(sharp_folder, ref, seed=9, overrides=SMALL, variants=2, progress=False)
    owned = []
    for i in range(3):
        res = make_dataset(sharp_folder, out, seed=9, overrides=SMALL, variants=2, shard=f"{i}/3", progress=False)
        owned.append({it.key for it in res.planned})
        assert (out / f"manifest.shard-{i}-of-3.csv").is_file()
        assert {k for k in read_manifest_shard(out, i, 3)} == owned[-1]
    assert sum(len(o) for o in owned) == 10 and set().union(*owned) == set(read_manifest(ref)["key"])
    assert not (out / "manifest.csv").exists()
    r = runner.invoke(app, ["merge", str(out)])
    assert r.exit_code == 0, r.output
    assert "10 pair(s) from 3 shard(s)" in r.output
    assert _pairs(out) == _pairs(ref)
    assert (out / "manifest.csv").read_bytes() == (ref / "manifest.csv").read_bytes()


def read_manifest_shard(out, i, n):
    return pd.read_csv(out / f"manifest.shard-{i}-of-{n}.csv", dtype={"key": str})["key"].tolist()


def test_merge_reports_missing_shards_and_pairs(sharp_folder, tmp_path):
    out = tmp_path / "o"
    make_dataset(sharp_folder, out, seed=1, overrides=SMALL, shard="0/2", progress=False)
    report = merge_shards(out)
    assert report.missing_shards == [1] and not report.ok
    r = runner.invoke(app, ["merge", str(out)])
    assert r.exit_code == 1 and "shard 1 of 2" in r.output
    make_dataset(sharp_folder, out, seed=1, overrides=SMALL, shard="1/2", progress=False)
    assert merge_shards(out).ok
    # a pair lost after its shard finished is reported
    key = read_manifest(out)["key"].iloc[0]
    meta = out / "meta" / (key.rsplit(".", 1)[0] + ".json")
    meta.unlink()
    report = merge_shards(out)
    assert report.missing == [key] and report.pairs == 4
    with pytest.raises(FileNotFoundError):
        merge_shards(tmp_path / "empty")


def test_merge_refuses_duplicates(sharp_folder, tmp_path):
    out = tmp_path / "o"
    make_dataset(sharp_folder, out, seed=1, overrides=SMALL, shard="0/2", progress=False)
    make_dataset(sharp_folder, out, seed=1, overrides=SMALL, shard="1/2", progress=False)
    a = pd.read_csv(out / "manifest.shard-0-of-2.csv")
    b = pd.read_csv(out / "manifest.shard-1-of-2.csv")
    pd.concat([b, a.iloc[:1]]).to_csv(out / "manifest.shard-1-of-2.csv", index=False)
    with pytest.raises(ValueError, match="also listed"):
        merge_shards(out)


def test_shard_arguments():
    assert parse_shard("2/5") == (2, 5) and parse_shard(None) is None
    for bad in ("5/5", "1", "a/b", "-1/3"):
        with pytest.raises(ValueError, match="shard"):
            parse_shard(bad)
    counts = [0, 0, 0, 0]
    for i in range(400):
        counts[shard_of(f"img/{i}.png", 4)] += 1
    assert min(counts) > 60  # the hash spreads keys evenly


def test_dask_backend_matches_the_local_run(sharp_folder, tmp_path):
    distributed = pytest.importorskip("distributed")
    ref, out = tmp_path / "ref", tmp_path / "dask"
    make_dataset(sharp_folder, ref, seed=2, overrides=SMALL, progress=False)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        r = runner.invoke(app, ["make", "--src", str(sharp_folder), "--out", str(out), "--seed", "2",
                                "--length", "3,8", "--backend", "dask", "--scheduler", cluster.scheduler_address,
                                "--quiet"])
    assert r.exit_code == 0, r.output
    assert "5 pair(s) written" in r.output
    assert _tree(out) == _tree(ref)
