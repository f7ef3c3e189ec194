"""README's set-up commands stay what CI runs and what the package offers."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]


def bash_blocks():
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```bash\n(.*?)```", text, flags=re.S)


def test_ci_runs_the_readme_test_command():
    commands = [b.strip() for b in bash_blocks() if "pytest" in b]
    assert len(commands) == 1
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands[0] in ci


def test_readme_demo_command_uses_declared_extras_and_script():
    (demo,) = [
        b.strip() for b in bash_blocks() if "linprune demo" in b and "pip install" in b
    ]
    setup = (ROOT / "setup.py").read_text()
    for extra in re.search(r"\.\[([a-z,]+)\]", demo).group(1).split(","):
        assert f'"{extra}":' in setup
    assert "linprune=keras_linprune.cli:main" in setup


def test_the_two_set_up_commands_use_their_own_environments():
    """Issue 24: running the test command after the demo's must not reuse the
    demo's environment (a non-editable install without the test tools)."""
    blocks = [b.strip() for b in bash_blocks() if "python3 -m venv" in b]
    folders = [re.search(r"python3 -m venv (\S+)", b).group(1) for b in blocks]
    assert len(folders) == 2 and len(set(folders)) == 2
    text = (ROOT / "README.md").read_text()
    assert '-m "not slow"' in text.split("## Set up", 1)[1].split("##", 1)[0]
