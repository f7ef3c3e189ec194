"""`linprune measure`: statistics written, sites listed."""

import json

from keras_linprune import cli


def test_measure_json_lists_the_sites(saved, capsys):
    _, x, tmp = saved
    args = ["measure", str(tmp / "m.keras"), "--data", str(tmp / "x.npy")]
    assert cli.main([*args, "--out", str(tmp / "s.npz"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["rows"] == len(x)
    assert [s["site"] for s in result["sites"]] == ["d0", "d1", "d2"]
    assert all(0 <= s["in_one_piece"] <= s["units"] for s in result["sites"])
