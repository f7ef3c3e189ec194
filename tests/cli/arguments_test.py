"""Arguments shared by the commands."""

import argparse
import json

import pytest

from keras_linprune.cli import arguments


def test_layer_threshold_keeps_the_type_written():
    assert arguments.layer_threshold("3") == 3
    assert arguments.layer_threshold("0.5") == 0.5
    assert arguments.layer_threshold("optimal") == "optimal"


def test_lists():
    assert arguments.int_list("1,256") == (1, 256)
    assert arguments.float_list("0.9,1") == (0.9, 1.0)
    for parse, text in [(arguments.int_list, "1,x"), (arguments.int_list, "0")]:
        with pytest.raises(argparse.ArgumentTypeError):
            parse(text)


def test_finish_prints_json_alone_or_text_with_what_was_written(capsys):
    args = argparse.Namespace(json=True)
    assert arguments.finish(args, {"rows": 3}, ["table"], {"Table": "t.csv"}) == 0
    assert json.loads(capsys.readouterr().out) == {"rows": 3}
    args.json = False
    arguments.finish(args, {"rows": 3}, ["table"], {"Table": "t.csv", "Plot": None})
    assert capsys.readouterr().out == "table\nTable written to t.csv\n"


def test_library_options_silence_the_progress_bar_for_json():
    args = argparse.Namespace(
        json=True,
        batch_size=64,
        layer_threshold="optimal",
        shortcut="auto",
        objective="params",
        no_remove_dead=True,
        remove_inactive="no",
    )
    options = arguments.library_options(args)
    assert options["verbose"] == 0 and options["batch_size"] == 64
    assert options["remove_dead"] is False and options["remove_inactive"] is False


def test_remove_inactive_and_finetune_reach_apply(tmp_path, capsys):
    """`compress --remove-inactive yes --finetune 1`: the report says both."""
    import json

    import keras
    import numpy as np

    from keras_linprune import cli
    from tests import factories as f

    model = f.shape_biases(f.mlp())
    model.save(tmp_path / "m.keras")
    np.save(tmp_path / "x.npy", f.data())
    out = tmp_path / "small.keras"
    argv = ["compress", str(tmp_path / "m.keras"), "--data", str(tmp_path / "x.npy")]
    argv += ["--out", str(out), "--threshold", "0.8", "--remove-inactive", "yes"]
    argv += ["--finetune", "1", "--json"]
    assert cli.main(argv) == 0
    totals = json.loads(capsys.readouterr().out)["totals"]
    assert totals["remove_inactive"] is True and totals["finetune_epochs"] >= 1
    assert keras.saving.load_model(out).count_params() < model.count_params()
