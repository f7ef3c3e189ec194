"""`linprune bench`: a table or JSON, and clear errors."""

import json

import pytest

from keras_linprune import cli


def test_bench_command_prints_a_table_or_json(pair, tmp_path, capsys):
    model, small = pair
    model.save(tmp_path / "m.keras")
    small.save(tmp_path / "s.keras")
    paths = [str(tmp_path / "m.keras"), str(tmp_path / "s.keras")]
    assert cli.main(["bench", *paths, "--repeats", "1", "--batch-sizes", "2"]) == 0
    text = capsys.readouterr().out
    assert "compiled_b2_ms" in text and "ratio" in text
    assert cli.main(["bench", paths[0], "--repeats", "1", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert {r["measure"] for r in records} >= {"params", "compiled_b256_ms"}
    assert next(r for r in records if r["measure"] == "params")["value"] == (
        model.count_params()
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.keras"], "missing.keras"),
        (["{m}", "--repeats", "0"], "--repeats must be at least 1"),
    ],
)
def test_bench_command_errors(pair, tmp_path, capsys, args, message):
    pair[0].save(tmp_path / "m.keras")
    args = [a.format(m=tmp_path / "m.keras") for a in args]
    assert cli.main(["bench", *args]) == 2
    assert message in capsys.readouterr().err


def test_bench_command_rejects_bad_batch_sizes(capsys):
    with pytest.raises(SystemExit):
        cli.main(["bench", "m.keras", "--batch-sizes", "1,x"])
    assert "comma-separated integers" in capsys.readouterr().err
