"""Robustness over random functional graphs: the property test, at scale.

Builds `--models` random graphs (`keras_linprune.examples.random_graphs`,
Dense and Conv2D kinds, 1-8 building steps) and compresses each with the
default options, checking what `tests/property_test.py` checks: it runs,
outputs equal through `predict()` (relative 1e-4), never larger, the
planner's count equals `count_params()`, save/load identical, input model
unchanged. Prints a table per kind and writes
`benchmarks/results/random_graphs.json` with every failing seed.

Usage:
    python benchmarks/random_graphs.py [--models 300] [--seed 0]
"""

import argparse
import os
import pathlib
import sys
import tempfile
import time
import traceback

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from results_file import write_results  # noqa: E402

from keras_linprune.examples.random_graphs import random_model  # noqa: E402
from tests.e2e.property_test import check_model  # noqa: E402


def run_one(seed, layers, kind, folder):
    model, x = random_model(seed, layers, kind)
    try:
        report = check_model(model, x, folder)
    except AssertionError as e:
        return "wrong", str(e).splitlines()[0][:200], None
    except Exception as e:  # noqa: BLE001 - recorded, not hidden
        where = traceback.extract_tb(e.__traceback__)[-1]
        return "error", f"{type(e).__name__} at {where.name}: {e}"[:200], None
    ratio = report.attrs["params_after"] / report.attrs["params_before"]
    return "ok", "", (bool(report.folded.any()), ratio)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    rows, failures = {}, []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        for i in range(args.models):
            kind = ("vector", "image")[i % 2]
            seed, layers = int(rng.integers(2**31)), int(rng.integers(1, 9))
            status, message, result = run_one(seed, layers, kind, folder)
            row = rows.setdefault(kind, dict(models=0, ok=0, folded=0, ratios=[]))
            row["models"] += 1
            if status == "ok":
                row["ok"] += 1
                row["folded"] += result[0]
                row["ratios"].append(result[1])
            else:
                failures.append(
                    dict(
                        kind=kind,
                        seed=seed,
                        layers=layers,
                        status=status,
                        message=message,
                    )
                )
    seconds = time.perf_counter() - start
    print(f"{'kind':8} {'models':>6} {'ok':>5} {'with folds':>10} {'mean size':>9}")
    table = []
    for kind, row in rows.items():
        mean = float(np.mean(row["ratios"])) if row["ratios"] else float("nan")
        print(
            f"{kind:8} {row['models']:6d} {row['ok']:5d} {row['folded']:10d} "
            f"{mean:9.1%}"
        )
        table.append(
            dict(
                kind=kind,
                models=row["models"],
                ok=row["ok"],
                with_folds=row["folded"],
                mean_size=mean,
            )
        )
    for fail in failures:
        print(f"FAIL {fail}")
    print(f"{args.models} models in {seconds:.0f} s")
    write_results(
        "random_graphs",
        dict(table=table, failures=failures, seconds=seconds, models=args.models),
    )


if __name__ == "__main__":
    main()
