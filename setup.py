"""Packaging for keras_linprune."""

import pathlib
import re

from setuptools import find_packages, setup

HERE = pathlib.Path(__file__).parent
VERSION = re.search(
    r'__version__ = "([^"]+)"',
    (HERE / "keras_linprune" / "__init__.py").read_text(),
).group(1)

setup(
    name="keras_linprune",
    # The repository the Colab badges and install cells of tutorials/ use.
    url="https://github.com/keras-linprune/keras_linprune",
    version=VERSION,
    description=(
        "Linearity-based structural compression for Keras 3 models: fold "
        "always-active ReLU neurons into linear shortcuts, drop dead ones."
    ),
    long_description=(HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    license="MIT",
    license_files=["LICENSE"],
    python_requires=">=3.10",
    packages=find_packages(include=["keras_linprune", "keras_linprune.*"]),
    install_requires=[
        "keras>=3.5",
        "numpy>=1.23",
        "pandas>=1.5",
    ],
    extras_require={
        # TensorFlow is the backend; pick the wheel that fits the machine.
        "cpu": ["tensorflow-cpu>=2.16"],
        "gpu": ["tensorflow>=2.16"],
        # Keras 3 on JAX (KERAS_BACKEND=jax); TensorFlow stays installed for
        # tf.data and export.
        "jax": ["jax[cpu]>=0.4.30"],
        # `linprune demo` trains on a dataset that scikit-learn ships.
        "demo": ["scikit-learn>=1.2"],
        # Plot helpers for sweeps (the paper's figures).
        "plot": ["matplotlib>=3.5"],
        # `linprune export --onnx` / `export.export_onnx`.
        "onnx": ["tf2onnx>=1.16", "onnxruntime>=1.17"],
        # Tests, doctests and the linter CI runs.
        "test": [
            "pytest>=7",
            "scikit-learn>=1.2",
            "matplotlib>=3.5",
            "ruff>=0.6",
            # The typed public surface ([tool.mypy] in pyproject.toml).
            "mypy>=1.10",
            "hypothesis>=6",
            "tf2onnx>=1.16",
            "onnxruntime>=1.17",
            # tests/backends_test.py runs the core work on JAX too.
            "jax[cpu]>=0.4.30",
            # The tutorials are notebooks paired with scripts, run by nbclient.
            "jupytext>=1.16",
            "nbclient>=0.10",
            "nbformat>=5.9",
            "ipykernel>=6.29",
            # The documentation site (`mkdocs build --strict` is a test).
            "mkdocs-material>=9.5",
            "mkdocstrings[python]>=0.26",
        ],
    },
    entry_points={"console_scripts": ["linprune=keras_linprune.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Framework :: Keras",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
