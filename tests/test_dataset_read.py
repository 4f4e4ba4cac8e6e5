"""Reading a generated dataset back: `anymo-sim info DS` reports what the store holds, `anymo-sim
plot DS` draws a window, and ImuWindows serves random placement subsets to a DataLoader, in
worker processes too, for Zarr and HDF5 alike."""

import json
import pickle
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from anymo_sim.dataset import open_dataset
from anymo_sim.dataset.generate import GenerateConfig, generate, plan
from anymo_sim_cli.app import app
from anymo_sim_cli.dataset_cmd import pick_placements

torch = pytest.importorskip("torch")
from torch.utils.data import DataLoader  # noqa: E402

from anymo_sim.dataset.torch_dataset import ImuWindows, collate, window_text  # noqa: E402

runner = CliRunner()


def unfinished_hdf5(src, dst):
    """What a stopped HDF5 run leaves: the file without the flag its writer sets on close."""
    import h5py

    shutil.copy(src, dst)
    with h5py.File(dst, "a") as f:
        del f.attrs["complete"]
    return dst


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """One small dataset (12 random placements, 1 s windows of the built-in clips) as Zarr and as
    HDF5, and the same plan half generated (every other job) as an unfinished Zarr store."""
    root = tmp_path_factory.mktemp("datasets")
    p = plan(GenerateConfig(placements="random", placement_count=12, builtin_seconds=2.0, window_s=1.0,
                            stride_s=1.0, windows_per_job=8, seed=1))
    generate(p, root / "ds.zarr")
    generate(p, root / "ds.h5", fmt="hdf5")
    generate(p, root / "half.zarr", num_shards=2, shard_index=0)
    return {"zarr": root / "ds.zarr", "hdf5": root / "ds.h5", "half": root / "half.zarr", "n_jobs": p.n_jobs}


def flat(output: str) -> str:
    """The output without rich's table rules and wrapping."""
    for ch in "│┃┏┓┗┛┡┩└┘┌┐━─╇┳┻╋┼┬┴╭╮╰╯":
        output = output.replace(ch, " ")
    return " ".join(output.split())


# ---- info ------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["zarr", "hdf5"])
def test_info_table_shows_the_stores_counts(stores, fmt):
    path = stores[fmt]
    res = runner.invoke(app, ["info", str(path)])
    assert res.exit_code == 0, res.output
    out = flat(res.output)
    ds = open_dataset(path)
    W, P, N, _ = ds.shape
    assert f"format {fmt}" in out and "status complete" in out
    assert f"windows {W}" in out and f"placements {P}" in out and f"samples per window {N}" in out
    assert "rate 100 Hz" in out and "dtype float16" in out and "ax (m/s^2)" in out and "gz (rad/s)" in out
    per_device = np.bincount(ds.windows["device"].ravel(), minlength=len(ds.devices))
    assert per_device.sum() == W * P
    for k, name in enumerate(ds.devices):
        assert f"{k} {name} {per_device[k]:,}" in out
    per_seq = np.bincount(ds.windows["sequence"], minlength=len(ds.sequences["name"]))
    for name, n, dur in zip(ds.sequences["name"], per_seq, ds.sequences["duration_s"]):
        assert f"{name} {n} {dur:.2f} [1]" in out
    spans = [ds.texts(i) for i in range(W)]
    n_spans, n_windows = sum(len(x) for x in spans), sum(bool(x) for x in spans)
    assert "DeepMimic" in out and f"text spans by kind kind spans windows label {n_spans} {n_windows}" in out
    assert f"placement_count {ds.attrs['config']['placement_count']}" in out
    ds.close()


@pytest.mark.parametrize("fmt", ["zarr", "hdf5"])
def test_info_json_matches_the_store(stores, fmt):
    path = stores[fmt]
    res = runner.invoke(app, ["info", str(path), "--json"])
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)
    ds = open_dataset(path)
    W, P, N, _ = ds.shape
    assert (s["format"], s["complete"], s["jobs_done"], s["jobs_total"]) == (fmt, True, stores["n_jobs"], stores["n_jobs"])
    assert (s["windows"], s["windows_written"], s["placements"], s["samples_per_window"]) == (W, W, P, N)
    assert s["rate_hz"] == 100.0 and s["window_s"] == 1.0 and s["dtype"] == "float16"
    assert [c["name"] for c in s["channels"]] == ["ax", "ay", "az", "gx", "gy", "gz"]
    assert s["channels"][0]["unit"] == "m/s^2" and s["channels"][5]["unit"] == "rad/s"
    on_disk = path.stat().st_size if fmt == "hdf5" else sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    assert s["size_bytes"] == on_disk > 0
    per_device = np.bincount(ds.windows["device"].ravel(), minlength=len(ds.devices))
    assert [d["preset"] for d in s["devices"]] == ds.devices
    assert [d["placement_windows"] for d in s["devices"]] == per_device.tolist()
    per_seq = np.bincount(ds.windows["sequence"], minlength=len(ds.sequences["name"]))
    assert [q["name"] for q in s["sequences"]] == [str(n) for n in ds.sequences["name"]]
    assert [q["windows"] for q in s["sequences"]] == per_seq.tolist()
    assert [q["seconds"] for q in s["sequences"]] == ds.sequences["duration_s"].tolist()
    spans = [ds.texts(i) for i in range(W)]
    assert s["text_kinds"]["label"]["spans"] == sum(len(x) for x in spans)
    assert s["windows_with_text"] == sum(bool(x) for x in spans)
    assert sum(s["segments"].values()) == P
    assert s["config"] == ds.attrs["config"] and s["anymo_sim_version"] == ds.attrs["anymo_sim_version"]
    ds.close()


def test_info_reports_an_unfinished_store(stores):
    res = runner.invoke(app, ["info", str(stores["half"]), "--json"])
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)
    done = len(range(0, stores["n_jobs"], 2))
    assert not s["complete"] and s["jobs_done"] == done and s["jobs_total"] == stores["n_jobs"]
    ds = open_dataset(stores["half"])
    written = sum(min(len(ds), (j + 1) * 8) - j * 8 for j in range(0, stores["n_jobs"], 2))
    # the counts cover the written windows only (the others hold fill values)
    assert s["windows_written"] == written < s["windows"]
    assert sum(d["placement_windows"] for d in s["devices"]) == written * ds.shape[1]
    res = runner.invoke(app, ["info", str(stores["half"])])
    assert f"incomplete: {done} of {stores['n_jobs']} jobs done" in flat(res.output)


def test_info_bad_dataset_fails_with_message(stores, tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    unfinished_hdf5(stores["hdf5"], tmp_path / "cut.h5.partial")
    for path, message in ((tmp_path / "missing.zarr", "no such dataset"), (tmp_path, "not a Zarr store"),
                          (tmp_path / "notes.txt", "not a Zarr store"), (tmp_path / "cut.h5.partial", "still being written")):
        res = runner.invoke(app, ["info", str(path)])
        assert res.exit_code != 0
        assert message in flat(res.output) and path.name in flat(res.output)
    res = runner.invoke(app, ["info", "--json"])
    assert res.exit_code != 0 and "needs a DATASET" in flat(res.output)
    assert runner.invoke(app, ["info"]).exit_code == 0  # without a dataset: the installation, as before


# ---- plot ------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["zarr", "hdf5"])
def test_plot_writes_a_png(stores, fmt, tmp_path):
    import matplotlib.image

    out = tmp_path / "w.png"
    res = runner.invoke(app, ["plot", str(stores[fmt]), "--window", "3", "--placements", "random/2,0", "--out", str(out),
                              "--dpi", "50"])
    assert res.exit_code == 0, res.output
    assert "random/2, random/0" in flat(res.output)
    img = matplotlib.image.imread(out)
    assert img.shape[0] > 150 and img.shape[1] > 300
    assert img.std() > 0.05 and len(np.unique(img.reshape(-1, img.shape[-1]), axis=0)) > 50
    assert not list(tmp_path.glob("*.partial"))


def test_plot_default_placements_spread_over_segments(stores):
    ds = open_dataset(stores["zarr"])
    names, segment = [str(n) for n in ds.placements["name"]], ds.placements["segment"]
    idx = pick_placements(None, names, segment)
    assert len(idx) == 4 and len(set(segment[idx])) == 4
    # a body with fewer segments than asked for: filled up with other placements
    assert len(pick_placements("", names[:3], np.zeros(3, int))) == 3
    assert pick_placements("3, random/1,3", names, segment) == [3, 1]
    ds.close()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--window", "999"], "--window: 999 is out of range"),
        (["--window", "-1"], "--window: -1 is out of range"),
        (["--placements", "random/99"], "'random/99' is not a placement"),
        (["--placements", "randm/1"], "did you mean random/1"),
        (["--placements", "12"], "index 12 is out of range"),
        (["--placements", ","], "no placement named"),
    ],
)
def test_plot_bad_options_fail_with_message(stores, tmp_path, args, message):
    out = tmp_path / "w.png"
    res = runner.invoke(app, ["plot", str(stores["hdf5"]), "--out", str(out), *args])
    assert res.exit_code != 0
    assert message in flat(res.output)
    assert not out.exists()


def test_plot_refuses_missing_data(stores, tmp_path):
    res = runner.invoke(app, ["plot", str(stores["half"]), "--window", "8", "--out", str(tmp_path / "w.png")])
    assert res.exit_code != 0 and "window 8" in flat(res.output) and "not written yet" in flat(res.output)
    res = runner.invoke(app, ["plot", str(tmp_path / "nothing.h5")])
    assert res.exit_code != 0 and "no such dataset" in flat(res.output)


# ---- torch Dataset ---------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["zarr", "hdf5"])
def test_items_have_the_stores_values_and_text(stores, fmt):
    ds = ImuWindows(stores[fmt], placements=5, seed=0)
    ref = open_dataset(stores[fmt])
    W, P, N, _ = ref.shape
    assert len(ds) == W
    for i in (0, 7, W - 1):
        it = ds[i]
        assert it["imu"].shape == (5, N, 6) and it["imu"].dtype == torch.float32
        assert it["placement_index"].dtype == torch.long and it["segment"].dtype == torch.long
        idx = it["placement_index"].numpy()
        assert len(set(idx)) == 5 and np.all(np.diff(idx) > 0) and idx.max() < P
        np.testing.assert_array_equal(it["imu"].numpy(), ref.window(i, idx))
        np.testing.assert_array_equal(it["segment"].numpy(), ref.placements["segment"][idx])
        assert it["window"] == i
        assert it["text"] == "; ".join(dict.fromkeys(s["text"] for s in ref.texts(i))) != ""
    ref.close()


def test_subsets_change_per_access_and_repeat_with_the_seed(stores):
    a = ImuWindows(stores["zarr"], placements=4, seed=7)
    b = ImuWindows(stores["zarr"], placements=4, seed=7)
    draws_a = [tuple(a[3]["placement_index"].tolist()) for _ in range(12)]
    draws_b = [tuple(b[3]["placement_index"].tolist()) for _ in range(12)]
    assert draws_a == draws_b and len(set(draws_a)) > 6
    c = ImuWindows(stores["zarr"], placements=4, seed=8)
    assert [tuple(c[3]["placement_index"].tolist()) for _ in range(12)] != draws_a


def test_options_pool_all_dtype_and_split(stores):
    ref = open_dataset(stores["hdf5"])
    P = ref.shape[1]
    full = ImuWindows(stores["hdf5"], placements=None, return_text=False, dtype=torch.float16)
    it = full[2]
    assert it["placement_index"].tolist() == list(range(P)) and "text" not in it
    assert it["imu"].dtype == torch.float16
    np.testing.assert_array_equal(it["imu"].numpy(), ref.window(2).astype(np.float16))
    pool = ImuWindows(stores["hdf5"], placements=2, seed=1, placement_names=["random/4", "random/9", 0])
    assert {k for _ in range(20) for k in pool[0]["placement_index"].tolist()} == {0, 4, 9}
    split = ImuWindows(stores["hdf5"], placements=3, windows=[5, 1])
    assert len(split) == 2 and split[0]["window"] == 5 and split[1]["window"] == 1
    with pytest.raises(IndexError):
        split[2]
    ref.close()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"placements": 0}, "placements: expected an integer in [1, 12]"),
        ({"placements": 13}, "placements: expected an integer in [1, 12]"),
        ({"placements": 3, "placement_names": ["random/1", "random/2"]}, "in [1, 2]"),
        ({"placement_names": ["wrist"]}, "'wrist' is not a placement"),
        ({"placements": 3, "windows": [0, 10_000]}, "windows:"),
        ({"placements": 3, "seed": -1}, "seed:"),
    ],
)
def test_bad_options_raise(stores, kwargs, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        ImuWindows(stores["zarr"], **kwargs)


def test_unfinished_store_is_refused(stores, tmp_path):
    with pytest.raises(ValueError, match="not finished"):
        ImuWindows(stores["half"])
    unfinished_hdf5(stores["hdf5"], tmp_path / "cut.h5.partial")
    with pytest.raises(ValueError, match="not finished"):
        ImuWindows(tmp_path / "cut.h5.partial")


def test_done_jobs_of_both_formats(stores, tmp_path):
    n = stores["n_jobs"]
    for fmt in ("zarr", "hdf5"):
        ds = open_dataset(stores[fmt])
        assert ds.complete() and ds.done_jobs() == list(range(n))
        ds.close()
    half = open_dataset(stores["half"])
    assert not half.complete() and 0 < len(half.done_jobs()) < n
    # an unfinished HDF5 file stays unfinished under any name (renamed by hand, copied)
    cut = unfinished_hdf5(stores["hdf5"], tmp_path / "renamed.h5")
    ds = open_dataset(cut)
    assert not ds.complete() and ds.done_jobs() == []
    ds.close()
    res = runner.invoke(app, ["info", str(cut)])
    assert res.exit_code != 0 and "still being written" in flat(res.output)


def test_pickled_copy_opens_its_own_store(stores):
    # what spawn/forkserver DataLoader workers receive: no handle, no generator
    ds = ImuWindows(stores["hdf5"], placements=3, seed=2)
    first = ds[4]
    copy = pickle.loads(pickle.dumps(ds))
    assert copy._store is None and copy._rng is None
    again = copy[4]  # a fresh generator from the same seed: the same first draw
    assert torch.equal(again["placement_index"], first["placement_index"]) and torch.equal(again["imu"], first["imu"])
    ds.close()
    copy.close()


def test_window_text_joins_unique_span_texts():
    assert window_text([]) == ""
    spans = [{"text": "walk", "kind": "label"}, {"text": "walk"}, {"text": "turn left", "kind": "narration"}, {"kind": "x"}]
    assert window_text(spans) == "walk; turn left"


@pytest.mark.parametrize("fmt", ["zarr", "hdf5"])
def test_dataloader_with_two_workers(stores, fmt):
    ds = ImuWindows(stores[fmt], placements=4, seed=0)
    ds[0]  # the main process has read (and holds a handle) before the workers fork
    ref = open_dataset(stores[fmt])
    N = ref.shape[2]

    def epochs(seed):
        loader = DataLoader(ds, batch_size=8, shuffle=True, num_workers=2, collate_fn=collate,
                            generator=torch.Generator().manual_seed(seed))
        return [list(loader) for _ in range(2)]

    first = epochs(0)
    seen = []
    for batch in first[0]:
        B = len(batch["window"])
        assert batch["imu"].shape == (B, 4, N, 6) and batch["imu"].dtype == torch.float32
        assert batch["placement_index"].shape == (B, 4) and batch["segment"].shape == (B, 4)
        assert isinstance(batch["text"], list) and len(batch["text"]) == B and all(batch["text"])
        for b in range(B):
            w, idx = int(batch["window"][b]), batch["placement_index"][b].numpy()
            np.testing.assert_array_equal(batch["imu"][b].numpy(), ref.window(w, idx))
        seen += batch["window"].tolist()
    assert sorted(seen) == list(range(len(ds)))
    # each epoch draws new subsets; the same loader seed gives the same batches again
    subsets = [{int(w): tuple(s.tolist()) for b in e for w, s in zip(b["window"], b["placement_index"])} for e in first]
    assert sum(subsets[0][w] != subsets[1][w] for w in subsets[0]) > len(ds) // 2
    again = epochs(0)
    for e0, e1 in zip(first, again):
        for b0, b1 in zip(e0, e1):
            assert torch.equal(b0["imu"], b1["imu"]) and b0["text"] == b1["text"]
    ref.close()
