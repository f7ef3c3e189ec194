"""Reproduces the shape of the paper's experiments offline.

Datasets (no downloads): every tabular classification set bundled with
scikit-learn (iris, wine, breast_cancer, digits), three generated ones
(make_classification), scikit-learn's digits upsampled to 28x28 for the
784-1024-1024-512-512-256-256-10 MLP, and a generated Titanic-like set for
the 11-25-50-100-100-100-100-2 MLP. Each model is trained (fixed seeds),
then compressed to 75 / 50 / 25 % of its size by

* `paper`: the prototype's fixed-size search (threshold lowered by 0.05,
  size counted without the first layer), dense shortcuts, no dead-neuron
  removal, sites decided in order;
* `ours`: exact search over the activation rates, exact optimal site
  selection, low-rank shortcuts, dead-neuron removal;
* `ours+refit`: the same with least-squares refitted shortcuts.

Also the prune-then-fold combination: activation pruning (5 % quantile,
3 rounds with one fine-tuning epoch each), then an exact fold.

Usage:
    python benchmarks/paper/reproduce.py [--quick]

Prints the tables and writes `benchmarks/results/paper.json` and
`benchmarks/results/paper.md`.
"""

import argparse
import json
import os
import pathlib
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn import datasets  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import keras_linprune as linprune  # noqa: E402

RESULTS = pathlib.Path(__file__).resolve().parent.parent / "results"
SIZES = (0.75, 0.5, 0.25)
OPENML_WIDTHS = (64, 128, 128, 256, 256)


def tabular_sets(quick):
    """(name, x, y) for the bundled and generated classification sets."""
    out = []
    for name in ("iris", "wine", "breast_cancer", "digits"):
        x, y = getattr(datasets, f"load_{name}")(return_X_y=True)
        out.append((name, x, y))
    for i, (n, d, k) in enumerate([(2000, 20, 2), (2000, 40, 3), (3000, 30, 5)]):
        x, y = datasets.make_classification(
            n_samples=n, n_features=d, n_informative=d // 2, n_classes=k, random_state=i
        )
        out.append((f"generated_{d}f_{k}c", x, y))
    return out[:3] if quick else out


def titanic_like(n=891, seed=0):
    """11 features like the Titanic set (class, sex, age, family, fare,
    port), survival from a logistic model with interactions."""
    rng = np.random.default_rng(seed)
    pclass = rng.choice(3, n, p=[0.24, 0.21, 0.55])
    sex = rng.integers(0, 2, n)
    age = np.clip(rng.normal(30, 14, n), 0.5, 80)
    sibsp = rng.poisson(0.5, n)
    parch = rng.poisson(0.4, n)
    fare = np.exp(rng.normal(3.5 - 0.8 * pclass, 0.6))
    port = rng.choice(3, n, p=[0.72, 0.19, 0.09])
    logit = (
        2.5 * sex
        - 1.0 * pclass
        - 0.03 * (age - 30)
        - 0.3 * sibsp
        + 0.2 * np.log(fare)
        - 0.8 * sex * (pclass == 2)
        - 0.5
    )
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    x = np.column_stack(
        [np.eye(3)[pclass], sex, age, sibsp, parch, np.log1p(fare), np.eye(3)[port]]
    )
    return x, y


def digits_28(seed=0):
    x, y = datasets.load_digits(return_X_y=True)
    x = np.repeat(np.repeat(x.reshape(-1, 8, 8) / 16.0, 4, 1), 4, 2)
    return x[:, 2:30, 2:30].reshape(len(x), -1), y


def mlp(d, k, widths, seed):
    keras.utils.set_random_seed(seed)
    x = keras.Input((d,))
    h = x
    for i, w in enumerate(widths):
        h = keras.layers.Dense(w, activation="relu", name=f"dense_{i}")(h)
    y = keras.layers.Dense(k, activation="softmax", name="out")(h)
    model = keras.Model(x, y)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def accuracy(model, x, y):
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return float(model.evaluate(x, y, verbose=0, return_dict=True)["accuracy"])


def compress_all(name, model, x_tr, x_te, y_te):
    """One row per (method, size)."""
    stats = linprune.measure(model, x_tr, verbose=0)
    base = accuracy(model, x_te, y_te)
    rows = []
    methods = {
        "paper": dict(
            target_step=0.05,
            shortcut="dense",
            remove_dead=False,
            layer_threshold="sequential",
        ),
        "ours": dict(),
        "ours+refit": dict(refit=True),
    }
    for method, options in methods.items():
        for size in SIZES:
            start = time.perf_counter()
            data = x_tr if options.get("refit") else stats
            row = dict(
                dataset=name,
                method=method,
                target=size,
                params_before=model.count_params(),
                acc_before=base,
            )
            try:
                small, report = linprune.apply(
                    model, data, target_size=size, verbose=0, **options
                )
                row.update(
                    params_after=small.count_params(),
                    threshold=report.attrs["threshold"],
                    acc_after=accuracy(small, x_te, y_te),
                )
            except ValueError as e:
                row.update(
                    params_after=None,
                    threshold=None,
                    acc_after=None,
                    note=str(e).split("Received: ")[-1],
                )
            row["seconds"] = time.perf_counter() - start
            rows.append(row)
    return rows


def prune_then_fold(name, model, x_tr, y_tr, x_te, y_te):
    pruned, history = linprune.prune_by_activation(
        model, x_tr, quantile=0.05, rounds=3, fit_data=(x_tr, y_tr), epochs_per_round=1
    )
    folded, report = linprune.apply(pruned, x_tr, verbose=0)
    return dict(
        dataset=name,
        params_before=model.count_params(),
        acc_before=accuracy(model, x_te, y_te),
        params_pruned=pruned.count_params(),
        acc_pruned=accuracy(pruned, x_te, y_te),
        params_pruned_folded=folded.count_params(),
        acc_pruned_folded=accuracy(folded, x_te, y_te),
        folded_neurons=int(report.linear.sum()),
        dead_removed=int(report.dead.sum()),
    )


def experiments(quick):
    yield from ((n, x, y, OPENML_WIDTHS, 10) for n, x, y in tabular_sets(quick))
    x, y = titanic_like()
    yield "titanic_like", x, y, (25, 50, 100, 100, 100, 100), 10
    if not quick:
        x, y = digits_28()
        yield ("digits_28x28", x, y, (1024, 1024, 512, 512, 256, 256), 10)


def markdown(rows, combos):
    lines = [
        "| dataset | params | acc | method | 75 % | 50 % | 25 % |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: |",
    ]
    by = {}
    for r in rows:
        by.setdefault((r["dataset"], r["method"]), {})[r["target"]] = r
    for (dataset, method), cells in by.items():
        first = next(iter(cells.values()))
        out = []
        for size in SIZES:
            r = cells[size]
            out.append(
                "unreachable"
                if r["acc_after"] is None
                else f"{r['acc_after']:.3f} (t={r['threshold']:.2f})"
            )
        lines.append(
            f"| {dataset} | {first['params_before']:,} | "
            f"{first['acc_before']:.3f} | {method} | " + " | ".join(out) + " |"
        )
    lines += [
        "",
        "| dataset | params / acc | pruned | pruned + folded |",
        "| --- | ---: | ---: | ---: |",
    ]
    for c in combos:
        lines.append(
            f"| {c['dataset']} | {c['params_before']:,} / "
            f"{c['acc_before']:.3f} | {c['params_pruned']:,} / "
            f"{c['acc_pruned']:.3f} | {c['params_pruned_folded']:,} / "
            f"{c['acc_pruned_folded']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="three tabular sets and Titanic only"
    )
    args = parser.parse_args()
    start = time.perf_counter()
    rows, combos = [], []
    for name, x, y, widths, epochs in experiments(args.quick):
        x_tr, x_te, y_tr, y_te = train_test_split(
            x, y, test_size=0.3, random_state=0, stratify=y
        )
        scaler = StandardScaler().fit(x_tr)
        x_tr = scaler.transform(x_tr).astype("float32")
        x_te = scaler.transform(x_te).astype("float32")
        model = mlp(x.shape[1], int(y.max()) + 1, widths, seed=0)
        model.fit(x_tr, y_tr, epochs=epochs, batch_size=32, verbose=0)
        rows += compress_all(name, model, x_tr, x_te, y_te)
        combos.append(prune_then_fold(name, model, x_tr, y_tr, x_te, y_te))
        print(f"{name}: done ({time.perf_counter() - start:.0f} s)", flush=True)
    table = markdown(rows, combos)
    print(table)
    print(f"total {time.perf_counter() - start:.0f} s")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "paper.json").write_text(
        json.dumps(dict(rows=rows, prune_then_fold=combos), indent=2) + "\n"
    )
    (RESULTS / "paper.md").write_text(table)


if __name__ == "__main__":
    main()
