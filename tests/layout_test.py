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


# -- imports: no circle, each module importable alone, no deferred stand-in --

#: Third-party packages whose import is slow (TensorFlow and what loads it):
#: a module that avoids them may defer a package module that needs them.
HEAVY = ("keras", "tensorflow", "jax", "matplotlib", "tf2onnx", "onnxruntime")


def module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in SOURCES}


def _targets(node, module, is_package):
    """The modules an import statement loads (package modules resolved to
    the deepest module named; parents are added by `package_imports`)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        parts = module.split(".")[: len(module.split(".")) - node.level + is_package]
        base = ".".join(parts + ([node.module] if node.module else []))
    return [
        f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
        for alias in node.names
    ]


def package_imports(path):
    """`(module-level imports, [(line, function-level import)])` of a
    source file, as module names."""
    module, tree = module_name(path), ast.parse(path.read_text())
    deferred = {
        id(inner)
        for fn in ast.walk(tree)
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)
        for inner in ast.walk(fn)
    }
    never_run = {  # `if TYPE_CHECKING:` blocks, read by the type checker only
        id(inner)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for inner in ast.walk(block)
    }
    top, inner = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in never_run:
            for target in _targets(node, module, path.name == "__init__.py"):
                if id(node) in deferred:
                    inner.append((node.lineno, target))
                else:
                    top.add(target)
    return top, inner


def with_parents(name):
    """`a.b.c` -> `a`, `a.b`, `a.b.c` (importing a module runs its
    packages' `__init__` first)."""
    parts = name.split(".")
    return {".".join(parts[: i + 1]) for i in range(len(parts))}


def import_graph(deferred=False):
    """Module -> the modules it imports at module level (and, with
    `deferred`, inside functions too). A module's own packages are loaded
    before it: no edge to them."""
    graph = {}
    for name, path in MODULES.items():
        top, inner = package_imports(path)
        targets = top | ({t for _, t in inner} if deferred else set())
        graph[name] = {
            parent
            for target in targets
            for parent in with_parents(target)
            if parent not in with_parents(name)
        }
    return graph


IMPORT_GRAPH = import_graph()


def closure(name):
    """Every module importing `name` loads at module level (third-party
    top-level names included)."""
    seen, todo = set(), [name]
    while todo:
        for target in IMPORT_GRAPH.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def loads_heavy(name):
    return any(m.split(".")[0] in HEAVY for m in closure(name) | {name})


def import_cycles(graph):
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while not component or w != v:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def test_no_import_circle():
    """Imports form no circle, counting those inside functions (which can
    hide one): a lower floor never imports a higher one."""
    assert import_cycles(import_graph(deferred=True)) == []


def test_the_circle_test_finds_a_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert import_cycles(graph) == [["a", "b", "c"]]


def deferred_stand_ins(path):
    """Function-level imports of package modules that stand in for
    module-level ones. Deferring is allowed only where it saves loading
    TensorFlow: a module that does not load it (the command line, which
    sets TensorFlow's log level first) importing one that does."""
    _, inner = package_imports(path)
    light = not loads_heavy(module_name(path))
    return [
        (line, target)
        for line, target in inner
        if target.split(".")[0] == "keras_linprune"
        and not (light and loads_heavy(target))
    ]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_function_level_import_stands_in_for_a_module_level_one(path):
    found = deferred_stand_ins(path)
    assert not found, f"{path.name}: import at module level {found}"


def test_the_deferred_import_test_catches_a_stand_in(monkeypatch):
    sample = PACKAGE / "graph" / "nodes.py"  # loads Keras itself
    text = "def f():\n    from keras_linprune.graph import registry\n"
    monkeypatch.setattr(pathlib.Path, "read_text", lambda self: text)
    assert deferred_stand_ins(sample) == [(2, "keras_linprune.graph.registry")]


def test_the_command_line_loads_no_tensorflow_at_import():
    assert not loads_heavy("keras_linprune.cli")
    assert loads_heavy("keras_linprune.api")


def test_every_module_imports_alone_in_a_fresh_interpreter():
    """Each module imported first, in one fresh interpreter: the package's
    modules are forgotten between imports (third-party ones stay loaded,
    they are not ours to order), so an import that only works after
    another module was loaded fails here."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        """
        import importlib, os, sys, traceback
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import keras, tensorflow  # loaded once, outside the package
        failed = []
        for name in sys.argv[1:]:
            for loaded in [m for m in sys.modules if m.startswith("keras_linprune")]:
                del sys.modules[loaded]
            try:
                importlib.import_module(name)
            except Exception:
                failed.append(name + ": " + traceback.format_exc(limit=-2))
        print("\\n".join(failed))
        sys.exit(1 if failed else 0)
        """
    )
    names = sorted(n for n in MODULES if ".cli.__main__" not in n)
    done = subprocess.run(
        [sys.executable, "-c", script, *names],
        capture_output=True,
        text=True,
        cwd=PACKAGE.parent,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]


#: The typed public surface: every public function and method here is fully
#: annotated, and CI type-checks these files (`[tool.mypy]` in pyproject.toml).
TYPED = ["api.py", "core", "plan", "graph/kinds/base.py", "measurement/stats.py"]
TYPED += ["report.py"]


def typed_sources():
    for entry in TYPED:
        path = PACKAGE / entry
        yield from sorted(path.rglob("*.py")) if path.is_dir() else [path]


def unannotated(path):
    """`(line, name)` of public functions and methods (of public classes)
    missing an argument or return annotation (`self`/`cls` aside;
    `__init__` needs no return annotation)."""
    found = []

    def visit(body, prefix=""):
        for node in body:
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                visit(node.body, f"{prefix}{node.name}.")
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                public = not node.name.startswith("_") or node.name == "__init__"
                a = node.args
                args = [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]
                missing = [
                    x.arg
                    for x in args
                    if x is not None
                    and x.annotation is None
                    and not (prefix and x.arg in ("self", "cls"))
                ]
                if node.returns is None and node.name != "__init__":
                    missing.append("return")
                if public and missing:
                    found.append((node.lineno, prefix + node.name, missing))

    visit(ast.parse(path.read_text()).body)
    return found


@pytest.mark.parametrize(
    "path", list(typed_sources()), ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_the_public_surface_is_annotated(path):
    assert not unannotated(path), f"{path.name}: annotate {unannotated(path)}"


def test_the_annotation_test_catches_a_missing_hint(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "def f(x: int, y) -> int: ...\n"
        "def _private(x): ...\n"
        "class C:\n"
        "    def m(self, x: int): ...\n"
    )
    assert unannotated(sample) == [(1, "f", ["y"]), (4, "C.m", ["return"])]


def test_every_module_has_its_unit_tests_in_the_mirrored_tree():
    """`keras_linprune/plan/layout.py` -> `tests/plan/layout_test.py`
    (end-to-end tests live apart, in `tests/e2e/`)."""
    tests = PACKAGE.parent / "tests"
    missing = [
        str(path.relative_to(PACKAGE))
        for path in SOURCES
        if path.name not in ("__init__.py", "__main__.py")
        and not (tests / path.relative_to(PACKAGE))
        .with_name(f"{path.stem}_test.py")
        .exists()
    ]
    assert not missing, f"no test file for {missing}"
