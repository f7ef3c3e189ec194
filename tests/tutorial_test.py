import pathlib
import runpy

import pytest

TUTORIALS = sorted(
    (pathlib.Path(__file__).resolve().parent.parent / "tutorials").glob("*.py")
)


@pytest.mark.slow
@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.name)
def test_tutorial_runs(path, capsys):
    runpy.run_path(str(path), run_name="__main__")
    assert "Total params" in capsys.readouterr().out
