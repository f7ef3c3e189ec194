"""The documentation site builds with `mkdocs build --strict`: every page
in the navigation exists, no link is broken, and every API reference entry
resolves to a documented object."""

import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_docs_site_builds_strictly(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": ""},
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    api = (tmp_path / "api" / "index.html").read_text()
    for name in (
        "api.apply",
        "api.measure",
        "sweep.sweep",
        "measurement.stats.ActivationStats",
        "export.export_tflite",
        "bench.compare",
        "plot.site_breakdown",
    ):
        assert f'id="keras_linprune.{name}"' in api, name
    assert (tmp_path / "img" / "fold.svg").exists()
    assert "fold.svg" in (tmp_path / "method" / "index.html").read_text()


def test_every_docs_page_is_in_the_navigation():
    config = (ROOT / "mkdocs.yml").read_text()
    pages = sorted(p.name for p in (ROOT / "docs").glob("*.md"))
    assert [p for p in pages if f": {p}" not in config] == []
