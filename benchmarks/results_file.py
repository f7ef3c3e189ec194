"""Writing a benchmark's result file, `benchmarks/results/<name>.json`,
with the machine it ran on (imported by the scripts beside it)."""

import json
import os
import pathlib
import platform

FOLDER = pathlib.Path(__file__).parent / "results"


def write_results(name, payload):
    """Writes `payload` (JSON-serialisable dict) plus the machine to
    `results/<name>.json`, prints and returns the path."""
    FOLDER.mkdir(exist_ok=True)
    path = FOLDER / f"{name}.json"
    record = {"machine": f"{platform.machine()} {os.cpu_count()} cpus", **payload}
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {path}")
    return path
