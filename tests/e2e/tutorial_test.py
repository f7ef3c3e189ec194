"""The Colab tutorials (`tutorials/*.ipynb`, each paired with a percent-format
`.py` source): every pair agrees, every notebook has its Colab badge and
install cell, and every notebook runs top to bottom in a fresh kernel
(nbclient) of an environment holding only what Colab preinstalls, its own
first cell installing the package, with the outputs checked: no error, no
warning on stderr, the figures shown inline, and each notebook's own
results."""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SOURCES = sorted((ROOT / "tutorials").glob("*.py"))
REPOSITORY = re.search(r'url="([^"]+)"', (ROOT / "setup.py").read_text()).group(1)

#: What each notebook's outputs must show: texts, and how many figures.
EXPECTED = {
    "01_quickstart": (["Total params", "saved and reloaded"], 1),
    "02_choosing_what_to_fold": (
        ["50 % target", "accuracy guard", "refit=True", "second moments", "from stats"],
        3,
    ),
    "03_deploy": (
        [
            "TF Serving's answer equals",
            "TFLite's answer equals",
            "ONNX Runtime's answer equals",
            "tflite_b1_ms",
        ],
        1,
    ),
    "04_convolutional_model": (["threshold 1.0", "after 3 epochs of fine-tuning"], 1),
}

#: Lines that must not appear in any cell output (warning spam).
NOISE = ("WARNING", "Warning:", "retracing", "Grappler", "E0000", "W0000")


def _cells(notebook):
    return [(c.cell_type, c.source.strip()) for c in notebook.cells]


def test_every_tutorial_is_listed():
    assert sorted(p.stem for p in SOURCES) == sorted(EXPECTED)


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_notebook_and_its_source_agree(source):
    import jupytext
    import nbformat

    notebook = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
    assert _cells(notebook) == _cells(jupytext.read(source)), (
        f"{source.name} and its notebook differ: run `jupytext --sync {source}`"
    )
    assert notebook.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_notebook_opens_in_colab_and_installs_the_package(source):
    import nbformat

    cells = nbformat.read(source.with_suffix(".ipynb"), as_version=4).cells
    badge = f"{REPOSITORY.replace('https://github.com', '')}/blob/main/tutorials/"
    assert "colab-badge.svg" in cells[0].source
    assert (
        f"colab.research.google.com/github{badge}{source.stem}.ipynb" in cells[0].source
    )
    install = cells[1].source
    assert 'find_spec("keras_linprune") is None' in install  # only when missing
    assert "KERAS_LINPRUNE_SOURCE" in install and f"git+{REPOSITORY}" in install


#: What a Colab CPU runtime has before a notebook's first cell runs (and the
#: kernel): keras_linprune is not among them.
COLAB_PACKAGES = (
    "tensorflow-cpu",
    "scikit-learn",
    "pandas",
    "matplotlib",
    "ipykernel",
)


@pytest.fixture(scope="module")
def colab_kernel(tmp_path_factory):
    """A Jupyter kernel in a fresh virtual environment holding only
    `COLAB_PACKAGES` (at the versions this environment has, from pip's
    cache), with `KERAS_LINPRUNE_SOURCE` pointing at this checkout, as the
    README tells a Colab user to do with a wheel. Returns `(kernel name,
    the environment's python)`."""
    import json
    import subprocess
    import sys
    from importlib import metadata

    root = tmp_path_factory.mktemp("colab")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    pins = []
    for name in COLAB_PACKAGES:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pins.append(name)
    subprocess.run(
        [python, "-m", "pip", "install", "-q", *pins], check=True, timeout=1200
    )
    spec = root / "jupyter" / "kernels" / "colab"
    spec.mkdir(parents=True)
    argv = [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    env = {"KERAS_LINPRUNE_SOURCE": str(ROOT)}
    (spec / "kernel.json").write_text(
        json.dumps(dict(argv=argv, display_name="colab", language="python", env=env))
    )
    return "colab", python, str(root / "jupyter")


@pytest.mark.slow
@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_notebook_runs_from_a_colab_like_environment(
    source, tmp_path, colab_kernel, monkeypatch
):
    """Each notebook, top to bottom, in a kernel whose environment has only
    what Colab preinstalls: its first cell must install the package (here
    from this checkout, through `KERAS_LINPRUNE_SOURCE`). Outputs checked:
    no error, no warning on stderr, the figures inline, its own results."""
    import subprocess

    import nbclient
    import nbformat

    kernel, python, jupyter_path = colab_kernel
    subprocess.run(  # every notebook installs it itself
        [python, "-m", "pip", "uninstall", "-q", "-y", "keras_linprune"], check=True
    )
    monkeypatch.setenv("JUPYTER_PATH", jupyter_path)
    notebook = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=900,
        kernel_name=kernel,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    texts, figures = [], 0
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                texts.append(output.text)
                noisy = [n for n in NOISE if n in output.text]
                assert not noisy, (
                    f"{source.stem}: {output.name} shows {noisy}:\n{output.text}"
                )
            elif output.output_type in ("execute_result", "display_data"):
                texts.append(str(output.data.get("text/plain", "")))
                texts.append(str(output.data.get("text/html", "")))
                figures += "image/png" in output.data
    wanted, n_figures = EXPECTED[source.stem]
    missing = [w for w in wanted if not any(w in t for t in texts)]
    assert not missing, f"{source.stem}: outputs lack {missing}"
    assert figures >= n_figures


def test_readme_opens_every_notebook_in_colab():
    readme = (ROOT / "README.md").read_text()
    repo = REPOSITORY.replace("https://github.com", "")
    for source in SOURCES:
        link = f"colab.research.google.com/github{repo}/blob/main/tutorials/"
        assert f"{link}{source.stem}.ipynb" in readme, source.stem
