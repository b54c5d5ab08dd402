import numba
import numpy as np
import pytest

from blurkit.kernels import TrajectoryParams, kernels_from_seeds, sample_kernels, sample_trajectories
from blurkit.kernels.psf import centroid, rasterize
from blurkit.kernels.trajectory import stream_seeds

SEEDS = range(40)


def test_trajectory_length_is_exact_for_every_seed():
    params = TrajectoryParams(length=(5.0, 80.0), samples=500)
    tr = sample_trajectories(200, seed=3, params=params)
    steps = np.linalg.norm(np.diff(tr.positions, axis=1), axis=2).sum(axis=1)
    np.testing.assert_allclose(steps, tr.drawn[:, 0], rtol=1e-9)
    assert tr.drawn[:, 0].min() >= 5.0 and tr.drawn[:, 0].max() <= 80.0


def test_drawn_parameters_stay_in_their_ranges():
    params = TrajectoryParams(anxiety=(0.004, 0.006), centripetal=(0.1, 0.2), exposure=(0.5, 1.0))
    tr = sample_trajectories(300, seed=1, params=params)
    rec = tr.records()
    assert all(0.004 <= r["anxiety"] <= 0.006 for r in rec)
    assert all(0.1 <= r["centripetal"] <= 0.2 for r in rec)
    assert {r["exposure"] for r in rec} == {0.5, 1.0}
    assert all(0 <= r["angle"] < 360 for r in rec)


@pytest.mark.parametrize("seed", SEEDS)
def test_kernel_properties(seed):
    kb = sample_kernels(8, seed=seed, params=TrajectoryParams(length=(1.0, 60.0), exposure=(0.1, 0.5, 1.0)))
    for i in range(len(kb)):
        k = kb.kernel(i)
        assert k.dtype == np.float32
        assert k.shape[0] == k.shape[1] and k.shape[0] % 2 == 1
        assert (k >= 0).all()
        assert abs(float(k.astype(np.float64).sum()) - 1.0) < 1e-6
        cx, cy = centroid(k)
        c = (k.shape[0] - 1) / 2
        assert abs(cx - c) <= 0.25 and abs(cy - c) <= 0.25
        # support is cropped: some mass in the outer two rings
        h = k.shape[0] // 2
        inner = k[2:-2, 2:-2].sum() if h >= 2 else 0
        assert k.sum() - inner > 0


def test_fixed_size_kernels_are_shrunk_to_fit_and_stay_centred():
    kb = sample_kernels(50, seed=5, params=TrajectoryParams(length=60.0, anxiety=0.0), size=15)
    assert kb.kernels.shape == (50, 15, 15)
    for i in range(50):
        assert kb.records[i]["scale"] < 1.0  # a 60 px line cannot fit in 15 px
        cx, cy = centroid(kb.kernels[i])
        assert abs(cx - 7) < 1e-3 and abs(cy - 7) < 1e-3
        np.testing.assert_allclose(kb.kernels[i].sum(dtype=np.float64), 1.0, atol=1e-6)


def test_same_seed_same_bytes_different_seed_differs():
    a = sample_kernels(16, seed=11)
    b = sample_kernels(16, seed=11)
    c = sample_kernels(16, seed=12)
    assert a.kernels.tobytes() == b.kernels.tobytes()
    assert a.kernels.shape != c.kernels.shape or a.kernels.tobytes() != c.kernels.tobytes()


def test_independent_of_batch_size():
    big = sample_kernels(20, seed=4)
    small = sample_kernels(5, seed=4)
    for i in range(5):
        assert big.kernel(i).tobytes() == small.kernel(i).tobytes()
    # explicit per-kernel seeds regenerate any single kernel alone
    one = kernels_from_seeds(big.seeds[7:8])
    assert one.kernel(0).tobytes() == big.kernel(7).tobytes()


def test_independent_of_thread_count():
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = sample_kernels(32, seed=9).kernels.copy()
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = sample_kernels(32, seed=9).kernels
    finally:
        numba.set_num_threads(before)
    assert one.tobytes() == many.tobytes()


def test_generator_input_is_accepted_and_advanced():
    rng = np.random.default_rng(0)
    a = sample_kernels(3, rng)
    b = sample_kernels(3, rng)
    assert a.seeds.tolist() != b.seeds.tolist()


def test_fused_path_equals_rasterised_trajectories():
    params = TrajectoryParams(length=(10, 40), exposure=(0.5, 1.0))
    kb = sample_kernels(6, seed=21, params=params)
    tr = sample_trajectories(6, seed=21, params=params)
    for i in range(6):
        k = rasterize(tr.positions[i], exposure=tr.records()[i]["exposure"])
        np.testing.assert_allclose(k, kb.kernel(i), atol=1e-7)


def test_zero_anxiety_gives_a_straight_line():
    tr = sample_trajectories(3, seed=0, params=TrajectoryParams(anxiety=0.0, length=30.0))
    for p in tr.positions:
        d = p[-1] - p[0]
        assert abs(np.hypot(*d) - 30.0) < 1e-6


def test_anxiety_bends_the_path():
    tr = sample_trajectories(50, seed=0, params=TrajectoryParams(anxiety=0.01, gaussian_shake=10.0, length=60.0))
    chord = np.linalg.norm(tr.positions[:, -1] - tr.positions[:, 0], axis=1)
    assert np.median(chord) < 55.0


def test_stream_seeds_are_distinct():
    s = stream_seeds(0, 10000)
    assert len(set(s.tolist())) == 10000


@pytest.mark.parametrize(
    "field,value",
    [
        ("samples", 1),
        ("samples", 2.5),
        ("length", (10, 5)),
        ("length", -1),
        ("anxiety", (0.0, 2.0)),
        ("big_shake", "x"),
        ("exposure", (0.0,)),
        ("exposure", (1.5,)),
        ("exposure", ()),
        ("gaussian_shake", float("nan")),
    ],
)
def test_bad_parameters_raise_naming_the_parameter(field, value):
    with pytest.raises(ValueError, match=field):
        TrajectoryParams(**{field: value})


def test_bad_sizes_and_counts():
    with pytest.raises(ValueError, match="size"):
        sample_kernels(2, seed=0, size=16)
    with pytest.raises(ValueError, match="n"):
        sample_kernels(-1, seed=0)
    with pytest.raises(ValueError, match="seed"):
        sample_kernels(2, seed=None)
    with pytest.raises(ValueError, match="seeds"):
        kernels_from_seeds([-3])


def _python_walk(s, params_drawn, samples):
    """The camera-shake model written plainly in Python, drawing from the same random stream ``s``."""
    import math

    from blurkit.kernels import _prng

    length, expl, centripetal, big_shake, gauss, angle, _ = params_drawn
    step = length / (samples - 1)
    v = complex(math.cos(math.radians(angle)), math.sin(math.radians(angle))) * (expl if expl > 0 else step)
    x = [0j]
    for _t in range(samples - 1):
        shake = 0j
        if _prng.uniform(s) < big_shake * expl:
            phi = math.pi + (_prng.uniform(s) - 0.5)
            shake = 2 * v * complex(math.cos(phi), math.sin(phi))
        g1 = _prng.normal(s)
        g2 = _prng.normal(s)
        v = v + shake + expl * (gauss * complex(g1, g2) - centripetal * x[-1]) * step
        v = v / abs(v) * step
        x.append(x[-1] + v)
    return np.array([[p.real, p.imag] for p in x])


def test_compiled_walk_matches_a_plain_python_walk():
    from blurkit.kernels import _prng
    from blurkit.kernels._shake import _draw

    params = TrajectoryParams(samples=300, length=(5, 60), big_shake=(0.5, 1.0), anxiety=(0.005, 0.01))
    seeds = stream_seeds(17, 6)
    tr = sample_trajectories(6, seed=17, params=params)
    prm, exposures = params._packed(), np.asarray(params.exposure)
    for i, seed in enumerate(seeds):
        s = _prng.new_state(np.uint64(seed))
        d = np.empty(7)
        _draw(s, prm, exposures, d)
        np.testing.assert_array_equal(d, tr.drawn[i])
        ref = _python_walk(s, d, params.samples)
        # same random numbers; complex arithmetic rounds slightly differently from the scalar code
        np.testing.assert_allclose(tr.positions[i], ref, atol=1e-9)


def test_normal_generator_is_standard_normal():
    from numba import njit
    from scipy import stats

    from blurkit.kernels import _prng

    @njit
    def draw(n):
        s = _prng.new_state(np.uint64(123))
        out = np.empty(n)
        for i in range(n):
            out[i] = _prng.normal(s)
        return out

    x = draw(400_000)
    assert abs(x.mean()) < 0.01 and abs(x.var() - 1) < 0.01
    assert stats.kstest(x, "norm").pvalue > 1e-3
    # the ziggurat's tail (|x| > R = 3.44) has the right mass
    assert abs((np.abs(x) > 3.442619855899).mean() - 2 * stats.norm.sf(3.442619855899)) < 2e-4


def test_paired_walks_are_bit_identical_to_single_walks():
    from blurkit.kernels import _prng
    from blurkit.kernels._shake import _draw, _walk

    params = TrajectoryParams(length=(5, 60), big_shake=(0.5, 1.0), anxiety=(0.005, 0.01))
    seeds = stream_seeds(23, 5)  # odd: the last one walks alone
    tr = sample_trajectories(5, seed=23, params=params)
    prm, exposures = params._packed(), np.asarray(params.exposure)
    for i, seed in enumerate(seeds):
        s = _prng.new_state(np.uint64(seed))
        d = np.empty(7)
        _draw(s, prm, exposures, d)
        xs, ys = np.empty(params.samples), np.empty(params.samples)
        big = _walk(s, d, xs, ys)
        assert np.array_equal(xs, tr.positions[i, :, 0]) and np.array_equal(ys, tr.positions[i, :, 1])
        assert big == tr.big_shakes[i]


def test_plain_python_twin_gives_the_same_kernels(monkeypatch):
    """The plain-Python tier (run before compiling pays) and the compiled code agree bit for bit."""
    params = TrajectoryParams(samples=400, length=(5, 60), big_shake=(0.5, 1.0), anxiety=(0.005, 0.01))
    runs = {}
    for tier in ("never", "always"):
        monkeypatch.setenv("BLURKIT_JIT", tier)
        kb = sample_kernels(5, seed=31, params=params)
        fixed = sample_kernels(3, seed=32, params=params, size=21)
        one = kernels_from_seeds(kb.seeds[2:3], params)
        tr = sample_trajectories(3, seed=33, params=params)
        runs[tier] = (kb.kernels, kb.records, fixed.kernels, one.kernels, tr.positions, tr.drawn, stream_seeds(7, 50))
    for a, b in zip(runs["never"], runs["always"], strict=True):
        if isinstance(a, np.ndarray):
            assert a.tobytes() == b.tobytes()
        else:
            assert a == b
    assert runs["never"][3][0].tobytes() == kb.kernel(2).tobytes()
