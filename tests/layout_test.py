"""The package's shape: the pipeline in the folder listing, pure NumPy
where it must be, and Keras internals behind one module."""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "keras_linprune"
BOUNDARY = PACKAGE / "graph" / "keras_internals.py"
SOURCES = sorted(PACKAGE.rglob("*.py"))


def imported_modules(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def private_attributes(path):
    """`obj._name` reads where `obj` is not `self`/`cls` (dunders allowed)."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and not (
                isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")
            )
        ):
            yield node.lineno, node.attr


def test_folders_show_the_pipeline():
    folders = {
        p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()
    }
    assert {"core", "graph", "measurement", "plan", "rebuild"} <= folders
    assert (PACKAGE / "report.py").exists()
    assert (PACKAGE / "graph" / "registry.py").exists()


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_private_attributes_only_behind_the_boundary(path):
    if path == BOUNDARY:
        return
    found = list(private_attributes(path))
    assert not found, (
        f"{path.name} reads private attributes {found}; go through "
        "graph/keras_internals.py"
    )


def test_the_boundary_test_catches_a_private_read(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f(fn):\n    return fn._nodes_by_depth\n")
    assert list(private_attributes(sample)) == [(2, "_nodes_by_depth")]


@pytest.mark.parametrize("folder", ["core", "plan"])
def test_core_and_plan_are_pure_numpy(folder):
    for path in (PACKAGE / folder).rglob("*.py"):
        for module in imported_modules(path):
            top = module.split(".")[0]
            assert top not in ("keras", "tensorflow", "jax", "torch"), (
                f"{path.name} imports {module}"
            )
            if top == "keras_linprune":
                assert module.split(".")[1] in ("core", "plan"), (
                    f"{path.name} imports {module}"
                )


def layer_class_tests(path):
    """`isinstance(x, ...layers...)` and `type(x) is ...layers...` in code."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "isinstance"
            and len(node.args) == 2
        ):
            target = ast.unparse(node.args[1])
        elif (
            isinstance(node, ast.Compare)
            and isinstance(node.left, ast.Call)
            and ast.unparse(node.left.func) == "type"
        ):
            target = " ".join(ast.unparse(c) for c in node.comparators)
        else:
            continue
        if "layers." in target or target.split(".")[0] == "L":
            yield node.lineno, target


def test_layer_classes_are_tested_only_in_the_registry():
    """Every fact about a layer type is in its kind: outside the registry
    and the kinds, no engine module tests for a Keras layer class (the
    copier's `Lambda` rule aside; `examples/` builds models)."""
    for path in SOURCES:
        exempt = {"kinds", "examples"}  # layer facts; example models
        if path.name in ("registry.py", "copier.py") or exempt & set(path.parts):
            continue
        assert not list(layer_class_tests(path)), path.name


def test_the_layer_class_test_catches_isinstance(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import keras\n"
        "ok = isinstance(x, keras.layers.Dense)\n"
        "ok = type(x) is keras.layers.ReLU\n"
    )
    assert [line for line, _ in layer_class_tests(sample)] == [2, 3]


def code_lines(node, lines):
    """Lines of code of a function: no docstring, comments or blanks."""
    body = node.body
    start = body[0].lineno
    if (
        isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        start = body[0].end_lineno + 1
    return sum(
        1
        for line in lines[start - 1 : node.end_lineno]
        if line.strip() and not line.strip().startswith("#")
    )


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_function_over_60_lines_of_code(path):
    text = path.read_text()
    lines = text.splitlines()
    long = [
        (node.name, code_lines(node, lines))
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and code_lines(node, lines) > 60
    ]
    assert not long, f"{path.name}: split {long}"
