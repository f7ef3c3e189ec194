"""Stats files: exact paths, atomic writes, and nothing invalid accepted."""

import numpy as np
import pytest

import keras_linprune as linprune
from keras_linprune.files import stats_file
from tests import factories as f


@pytest.fixture(scope="module")
def measured():
    model = f.shape_biases(f.mlp())
    x = f.data()
    return model, x, linprune.measure(model, x, verbose=0)


def fields_of(path):
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


def rewrite(path, fields, *, redigest=False, cls=linprune.ActivationStats):
    """Writes `fields` back as a stats file (with a fresh digest when
    `redigest`, as a careful forger would)."""
    if redigest:
        sites = [str(s) for s in fields["sites"]]
        stats = object.__new__(cls)
        stats.piece_counts = {s: fields[f"counts/{s}"] for s in sites}
        stats.observations = {s: fields[f"observations/{s}"] for s in sites}
        stats.principal = dict(zip(sites, fields["principal"].tolist()))
        stats.rows = int(fields["rows"])
        stats.identical_rows = bool(fields["identical_rows"])
        stats.fingerprint = str(fields["fingerprint"])
        stats.model_name = str(fields["model_name"])
        stats.moments = None
        fields = {**fields, "digest": stats_file.digest(stats)}
    with open(path, "wb") as fh:
        np.savez(fh, **fields)


@pytest.mark.parametrize("name", ["stats", "stats.npz", "stats.data"])
def test_save_and_load_use_exactly_the_given_path(tmp_path, measured, name):
    _, _, stats = measured
    path = tmp_path / name
    stats.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]
    again = linprune.ActivationStats.load(path)
    for site in stats.sites:
        np.testing.assert_array_equal(
            again.piece_counts[site], stats.piece_counts[site]
        )
    assert (again.rows, again.fingerprint) == (stats.rows, stats.fingerprint)


def test_edited_counts_are_refused_by_the_digest(tmp_path, measured):
    _, _, stats = measured
    path = tmp_path / "s.npz"
    stats.save(path)
    fields = fields_of(path)
    counts = fields["counts/d0"].copy()
    counts[1] = int(fields["observations/d0"])  # "every neuron always active"
    counts[0] = 0
    rewrite(path, {**fields, "counts/d0": counts})
    with pytest.raises(linprune.StatsFileError, match="does not match its digest"):
        linprune.ActivationStats.load(path)


@pytest.mark.parametrize(
    "edit,match",
    [
        (lambda c, obs: -c, "non-negative"),
        (lambda c, obs: c + obs, "at most"),
        (lambda c, obs: c.astype("float64") * np.nan, "kind 'iu'"),
    ],
    ids=["negative", "more_than_rows", "nan"],
)
def test_impossible_counts_are_refused_even_with_a_fresh_digest(
    tmp_path, measured, edit, match
):
    _, _, stats = measured
    path = tmp_path / "s.npz"
    stats.save(path)
    fields = fields_of(path)
    fields["counts/d0"] = edit(fields["counts/d0"], int(fields["observations/d0"]))
    rewrite(path, fields, redigest=fields["counts/d0"].dtype.kind in "iu")
    with pytest.raises(linprune.StatsFileError, match=match):
        linprune.ActivationStats.load(path)


def test_consistent_forgery_is_caught_by_the_piece_sums(tmp_path, measured):
    """Setting a ReLU site's active counts to 'always' without its inactive
    counts breaks the sums that apply checks against the model."""
    model, _, stats = measured
    path = tmp_path / "s.npz"
    stats.save(path)
    fields = fields_of(path)
    counts = fields["counts/d0"].copy()
    counts[0] = 0
    counts[1] = int(fields["observations/d0"]) // 2
    rewrite(path, {**fields, "counts/d0": counts}, redigest=True)
    forged = linprune.ActivationStats.load(path)
    with pytest.raises(ValueError, match="add up"):
        linprune.apply(model, forged)


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[: len(b) // 2],  # truncated
        lambda b: b"not a zip file at all",
        lambda b: b"",
    ],
    ids=["truncated", "text", "empty"],
)
def test_corrupt_files_raise_one_error_type(tmp_path, measured, damage):
    _, _, stats = measured
    path = tmp_path / "s.npz"
    stats.save(path)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(linprune.StatsFileError, match="Expected a stats file"):
        linprune.ActivationStats.load(path)


@pytest.mark.parametrize(
    "change,match",
    [
        (lambda fl: fl.pop("rows"), "'rows' field"),
        (lambda fl: fl.update(format_version=np.int64(2)), "format version 1"),
        (lambda fl: fl.update(rows=np.int64(0)), "at least one calibration row"),
        (lambda fl: fl.update(sites=np.array([1, 2])), "field 'sites'"),
    ],
    ids=["missing", "version", "no_rows", "wrong_type"],
)
def test_malformed_fields(tmp_path, measured, change, match):
    _, _, stats = measured
    path = tmp_path / "s.npz"
    stats.save(path)
    fields = fields_of(path)
    change(fields)
    rewrite(path, fields)
    with pytest.raises(linprune.StatsFileError, match=match):
        linprune.ActivationStats.load(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="No stats file"):
        linprune.ActivationStats.load(tmp_path / "nope.npz")


def test_a_failed_save_keeps_the_previous_file(tmp_path, measured, monkeypatch):
    _, _, stats = measured
    path = tmp_path / "s.npz"
    stats.save(path)
    before = path.read_bytes()

    def broken(fh, **fields):
        fh.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken)
    with pytest.raises(OSError, match="disk full"):
        stats.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["s.npz"]  # no temp left


def test_fingerprint_sees_every_weight(measured):
    """Swapping two kernel values anywhere changes the fingerprint, so
    stale stats are refused (a strided sample missed most positions)."""
    model, x, stats = measured
    changed = f.shape_biases(f.mlp())
    kernel, bias = changed.get_layer("d1").get_weights()
    flat = kernel.reshape(-1)
    flat[[1, 2]] = flat[[2, 1]]  # positions a stride-61 sample skips
    changed.get_layer("d1").set_weights([flat.reshape(kernel.shape), bias])
    with pytest.raises(ValueError, match="different model"):
        linprune.apply(changed, stats)


def test_a_stats_file_with_edited_moments_is_refused(tmp_path):
    model, x = f.one_site_dense()
    path = tmp_path / "s.npz"
    linprune.measure(model, x, moments=True, verbose=0).save(path)
    fields = dict(np.load(path))
    key = next(k for k in fields if k.endswith("/gram"))
    fields[key] = fields[key] * 2.0
    np.savez(path, **fields)
    with pytest.raises(linprune.StatsFileError, match="digest"):
        linprune.ActivationStats.load(path)
