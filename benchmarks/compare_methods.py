"""Accuracy at a given size: linearity compression against what a Keras
user would try instead, on four models trained here.

For each model (fixed seeds; calibration and fine-tuning on the training
rows, every metric on a test split they never saw) and each size in
`SIZES` (fractions of the original's parameters):

* linprune at `target_params`: folding alone (`remove_inactive=False`)
  with the plain fold (`refit=False`), per-site refit (`refit=True`) and
  sequential refit (`refit="auto"`); with inactive neurons removed at the
  fold threshold (`remove_inactive=True`); the default call (every mix of
  folding and inactive removal compared on held-out calibration rows), and
  the default followed by `linprune.finetune`;
* at the parameter count the default reached: activation-rate pruning
  (`prune_by_activation`, its quantile bisected to that count),
  structured L1-magnitude pruning (`baselines.magnitude`) and truncated SVD
  of the Dense kernels (`baselines.svd`), each without and with the same
  fine-tune;
* once per model: `max_metric_drop=0.01` on a validation part of the
  training rows;
* on `ORDER_MODELS` at 25 % and 10 %: activation pruning then an exact
  fold, an exact fold then activation pruning, and the default call (both
  in one plan);
* on `HEAD_TO_HEAD` (the CNN at 25 %, the 2.8M MLP at 5 %): the default
  call and L1 pruning, each fine-tuned with `SEEDS` seeds.

Every fine-tune is the same call with the same budget (`--epochs`,
learning rate 1e-3, labels mixed in at weight 0.5). Prints, per model, the
metric at every size and the smallest size within 1 point of the
original (`within_1pt`); writes `benchmarks/results/compare_methods.json`
and, with matplotlib, `docs/img/compare_methods.png`.

Usage:
    python benchmarks/compare_methods.py [--models mlp_2.8m,cnn] [--epochs 5]
"""

import argparse
import json
import os
import pathlib
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from results_file import write_results  # noqa: E402
from sklearn import datasets  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import keras_linprune as linprune  # noqa: E402
from keras_linprune.baselines.magnitude import prune_by_magnitude  # noqa: E402
from keras_linprune.baselines.svd import factorize_dense  # noqa: E402

SIZES = (0.5, 0.35, 0.25, 0.2, 0.15, 0.12, 0.1, 0.07, 0.05)
#: The models of the order study (`order_study`).
ORDER_MODELS = ("mlp_2.8m", "cnn")
#: Where linprune and L1 pruning are compared over several fine-tune seeds
#: (`head_to_head`): model -> size.
HEAD_TO_HEAD = {"cnn": 0.25, "mlp_2.8m": 0.05}
SEEDS = 5
FIGURE = pathlib.Path(__file__).parent.parent / "docs" / "img" / "compare_methods.png"


# -- data and models -------------------------------------------------------


def digits(size):
    x, y = datasets.load_digits(return_X_y=True)
    if size == 28:
        x = np.repeat(np.repeat(x.reshape(-1, 8, 8) / 16.0, 4, 1), 4, 2)
        x = x[:, 2:30, 2:30]
    return x.reshape(len(x), -1), y


def split(x, y, stratify=True, scale=True):
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=0.3, random_state=0, stratify=y if stratify else None
    )
    if scale:
        scaler = StandardScaler().fit(x_tr)
        x_tr, x_te = scaler.transform(x_tr), scaler.transform(x_te)
    return x_tr.astype("float32"), y_tr, x_te.astype("float32"), y_te


def mlp(d, widths, out, activation="softmax"):
    x = keras.Input((d,))
    h = x
    for i, w in enumerate(widths):
        h = keras.layers.Dense(w, activation="relu", name=f"dense_{i}")(h)
    return keras.Model(x, keras.layers.Dense(out, activation=activation, name="out")(h))


def cnn():
    """Conv16-Conv32-MaxPool-Conv64-Flatten-Dense128-Dense10 (843,914)."""
    L = keras.layers
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            L.Conv2D(16, 3, activation="relu", name="conv_0"),
            L.Conv2D(32, 3, activation="relu", name="conv_1"),
            L.MaxPooling2D(),
            L.Conv2D(64, 3, activation="relu", name="conv_2"),
            L.Flatten(),
            L.Dense(128, activation="relu", name="dense_0"),
            L.Dense(10, activation="softmax", name="out"),
        ],
        name="cnn",
    )


def task(name):
    """`(model, x_tr, y_tr, x_te, y_te, metric, epochs)`, trained."""
    keras.utils.set_random_seed(0)
    if name == "mlp_2.8m":
        data = split(*digits(28))
        model = mlp(784, (1024, 1024, 512, 512, 256, 256), 10)
        metric, epochs = "accuracy", 5
    elif name == "deep_mlp":
        data = split(*digits(8))
        model = mlp(64, (256, 64, 256, 64, 256, 64, 128), 10)
        metric, epochs = "accuracy", 15
    elif name == "cnn":
        x, y = digits(28)
        x_tr, y_tr, x_te, y_te = split(x, y, scale=False)
        data = (
            x_tr.reshape(-1, 28, 28, 1) / 16,
            y_tr,
            x_te.reshape(-1, 28, 28, 1) / 16,
            y_te,
        )
        model = cnn()
        metric, epochs = "accuracy", 5
    elif name == "regression":
        x, y = datasets.make_friedman1(n_samples=3000, n_features=10, random_state=0)
        data = split(x, (y - y.mean()) / y.std(), stratify=False)
        model = mlp(10, (256, 256, 128), 1, activation=None)
        metric, epochs = "r2", 40
    else:
        raise ValueError(f"unknown model {name!r}")
    x_tr, y_tr, x_te, y_te = data
    loss = "mse" if metric == "r2" else "sparse_categorical_crossentropy"
    model.compile("adam", loss)
    model.fit(x_tr, y_tr, epochs=epochs, batch_size=32, verbose=0)
    return model, x_tr, y_tr, x_te, y_te, metric


def score(model, x, y, metric):
    out = model.predict(x, verbose=0, batch_size=512)
    if metric == "accuracy":
        return float(np.mean(np.argmax(out, axis=1) == y))
    out = out.reshape(-1)
    return float(1 - np.sum((y - out) ** 2) / np.sum((y - y.mean()) ** 2))


# -- methods ---------------------------------------------------------------


def tune(small, model, x_tr, y_tr, epochs, seed=0):
    keras.utils.set_random_seed(seed)
    tuned, _ = linprune.finetune(
        small,
        model,
        x_tr,
        labels=y_tr,
        epochs=epochs,
        learning_rate=1e-3,
        batch_size=64,
        verbose=0,
    )
    return tuned


def at_size(model, x_tr, y_tr, budget, epochs):
    """`{method: model or None}` at `budget` parameters (None: cannot).

    The ablations fold alone (`remove_inactive=False`); the default call
    compares every mix of folding and inactive removal. The baselines get
    the parameter count the default reached."""
    out = {}
    for label, refit, remove in (
        ("plain fold", False, False),
        ("per-site refit", True, False),
        ("fold only (sequential refit)", "auto", False),
        ("+ remove_inactive", "auto", True),
        ("default", "auto", "auto"),
    ):
        out[label] = _linprune(model, x_tr, budget, refit, remove_inactive=remove)
    small = out["default"]
    out["default + finetune"] = small and tune(small, model, x_tr, y_tr, epochs)
    if small is None:
        return out
    same = small.count_params()
    baselines = (
        ("activation pruning", lambda: activation_pruned(model, x_tr, same)),
        ("L1 magnitude", lambda: prune_by_magnitude(model, target_params=same)[0]),
        ("SVD", lambda: factorize_dense(model, target_params=same)[0]),
    )
    for label, make in baselines:
        try:
            pruned = make()
        except ValueError:
            pruned = None
        out[label] = pruned
        out[f"{label} + finetune"] = pruned and tune(pruned, model, x_tr, y_tr, epochs)
    return out


def activation_pruned(model, x, budget, then_fold=False, first=None):
    """`prune_by_activation` (one round) at the smallest quantile whose
    model has at most `budget` parameters, by bisection (14 steps); with
    `then_fold`, each pruned model is then folded exactly; `first`: a model
    to prune instead of `model` (an exact fold of it). `None` if even the
    largest quantile tried misses the budget."""

    def make(q):
        pruned, _ = linprune.prune_by_activation(first or model, x, quantile=q)
        return linprune.apply(pruned, x, verbose=0)[0] if then_fold else pruned

    lo, hi, best = 0.0, 1.0, None
    for _ in range(14):
        q = (lo + hi) / 2
        candidate = make(q)
        if candidate.count_params() <= budget:
            hi, best = q, candidate
        else:
            lo = q
    return best


def order_study(model, x_tr, x_te, y_te, metric, total):
    """Which order of importance pruning and folding is better, at 25 % and
    10 %: activation pruning then an exact fold, an exact fold then
    activation pruning, and the default call (both in one plan)."""
    exact = linprune.apply(model, x_tr, verbose=0)[0]
    rows = []
    for size in (0.25, 0.1):
        budget = int(size * total)
        for method, small in (
            ("prune, then fold", activation_pruned(model, x_tr, budget, True)),
            ("fold, then prune", activation_pruned(model, x_tr, budget, first=exact)),
            ("one plan (default)", _linprune(model, x_tr, budget, "auto")),
        ):
            rows.append(_row(None, method, size, small, total, x_te, y_te, metric))
    return rows


def head_to_head(model, x_tr, y_tr, x_te, y_te, metric, budget, epochs):
    """The default call and L1 pruning at one size, each fine-tuned with
    `SEEDS` seeds (the fine-tune's shuffling and split): a single run's
    difference of one or two test rows is noise."""
    ours = _linprune(model, x_tr, budget, "auto")
    if ours is None:
        return []
    l1, _ = prune_by_magnitude(model, target_params=ours.count_params())
    rows = []
    for label, small in (("default + finetune", ours), ("L1 magnitude + finetune", l1)):
        values = [
            score(tune(small, model, x_tr, y_tr, epochs, seed), x_te, y_te, metric)
            for seed in range(SEEDS)
        ]
        rows.append(
            dict(
                method=label,
                params=small.count_params(),
                ratio=small.count_params() / model.count_params(),
                values=values,
                mean=float(np.mean(values)),
                std=float(np.std(values)),
            )
        )
    return rows


def _linprune(model, x, budget, refit, **options):
    try:
        small, _ = linprune.apply(
            model, x, target_params=budget, refit=refit, verbose=0, **options
        )
    except ValueError:  # the budget is below what folding reaches
        return None
    return small


def guarded(model, x_tr, y_tr, metric):
    """The smallest model losing at most 1 point on a validation part of
    the training rows (`max_metric_drop=0.01`), or None."""
    if metric != "accuracy":
        return None
    n = int(0.8 * len(x_tr))
    small, _ = linprune.apply(
        model,
        x_tr[:n],
        max_metric_drop=0.01,
        eval_data=(x_tr[n:], y_tr[n:]),
        metric="accuracy",
        verbose=0,
    )
    return small


# -- the run ---------------------------------------------------------------


def run_model(name, epochs):
    start = time.perf_counter()
    model, x_tr, y_tr, x_te, y_te, metric = task(name)
    base = score(model, x_te, y_te, metric)
    total = model.count_params()
    rows = []
    for size in SIZES:
        for method, small in at_size(
            model, x_tr, y_tr, int(size * total), epochs
        ).items():
            rows.append(_row(name, method, size, small, total, x_te, y_te, metric))
    small = guarded(model, x_tr, y_tr, metric)
    if small is not None:
        rows.append(
            _row(name, "max_metric_drop=0.01", None, small, total, x_te, y_te, metric)
        )
    order = []
    if name in ORDER_MODELS:
        order = order_study(model, x_tr, x_te, y_te, metric, total)
    seeds = []
    if name in HEAD_TO_HEAD:
        budget = int(HEAD_TO_HEAD[name] * total)
        seeds = head_to_head(model, x_tr, y_tr, x_te, y_te, metric, budget, epochs)
    print(f"{name}: {time.perf_counter() - start:.0f} s", flush=True)
    return dict(
        model=name,
        metric=metric,
        params=total,
        original=base,
        rows=rows,
        order=order,
        seeds=seeds,
    )


def _row(name, method, size, small, total, x_te, y_te, metric):
    if small is None:
        return dict(method=method, target=size, params=None, ratio=None, value=None)
    params = small.count_params()
    return dict(
        method=method,
        target=size,
        params=params,
        ratio=params / total,
        value=score(small, x_te, y_te, metric),
    )


def within_1pt(result):
    """Per method, the smallest ratio whose metric is within 0.01 of the
    original's (None: no size is)."""
    best = {}
    for row in result["rows"]:
        ok = row["value"] is not None and row["value"] >= result["original"] - 0.01
        method = row["method"]
        best.setdefault(method, None)
        if ok and (best[method] is None or row["ratio"] < best[method]):
            best[method] = row["ratio"]
    return best


def print_table(result):
    methods = list(dict.fromkeys(r["method"] for r in result["rows"]))
    print(
        f"\n{result['model']} ({result['params']:,} parameters, test "
        f"{result['metric']} {result['original']:.4f})"
    )
    print(f"{'method':<28}" + "".join(f"{s:>8.0%}" for s in SIZES) + "  within 1pt")
    best = within_1pt(result)
    for method in methods:
        values = {
            r["target"]: r["value"] for r in result["rows"] if r["method"] == method
        }
        cells = "".join(
            f"{values[s]:>8.4f}" if values.get(s) is not None else f"{'-':>8}"
            for s in SIZES
        )
        if method.startswith("max_metric"):
            row = next(r for r in result["rows"] if r["method"] == method)
            cells = f"   {row['value']:.4f} at {row['ratio']:.1%}".ljust(8 * len(SIZES))
        ratio = best[method]
        print(f"{method:<28}{cells}  {'-' if ratio is None else f'{ratio:.1%}'}")


def plot(results):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    figure, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 4))
    for ax, result in zip(np.atleast_1d(axes), results):
        methods = [
            m
            for m in dict.fromkeys(r["method"] for r in result["rows"])
            if not m.startswith("max_metric")
        ]
        for method in methods:
            rows = [
                r
                for r in result["rows"]
                if r["method"] == method and r["value"] is not None
            ]
            ax.plot(
                [r["ratio"] for r in rows],
                [r["value"] for r in rows],
                marker="o",
                label=method,
                linestyle="--" if "finetune" in method else "-",
            )
        ax.axhline(
            result["original"] - 0.01,
            color="grey",
            linestyle=":",
            label="original - 1pt",
        )
        ax.set(
            title=result["model"],
            xlabel="parameters (fraction)",
            ylabel=result["metric"],
        )
        ax.set_ylim(bottom=result["original"] - 0.15)  # lower points: in the table
        ax.set_xscale("log")
    np.atleast_1d(axes)[0].legend(fontsize=7)
    figure.tight_layout()
    FIGURE.parent.mkdir(exist_ok=True)
    figure.savefig(FIGURE, dpi=110)
    print(f"wrote {FIGURE}")


def markdown(results):
    """The results as markdown tables (one per model), for the docs."""
    lines = []
    for result in results:
        best = result["within_1pt"]
        lines += [
            f"**{result['model']}** ({result['params']:,} parameters, test "
            f"{result['metric']} {result['original']:.4f})",
            "",
            "| method | " + " | ".join(f"{s:.0%}" for s in SIZES) + " | within 1 pt |",
            "| --- | " + " | ".join("---:" for _ in SIZES) + " | ---: |",
        ]
        for method in dict.fromkeys(r["method"] for r in result["rows"]):
            rows = [r for r in result["rows"] if r["method"] == method]
            if method.startswith("max_metric"):
                (r,) = rows
                cells = [f"{r['value']:.4f} at {r['ratio']:.1%}"] + [""] * (
                    len(SIZES) - 1
                )
            else:
                values = {r["target"]: r for r in rows}
                cells = [_cell(values.get(s)) for s in SIZES]
            ratio = best.get(method)
            lines.append(
                f"| {method} | "
                + " | ".join(cells)
                + f" | {'–' if ratio is None else f'{ratio:.1%}'} |"
            )
        lines.append("")
        lines += _order_table(result)
        lines += _seeds_table(result)
    return "\n".join(lines)


def _seeds_table(result):
    if not result.get("seeds"):
        return []
    lines = [
        f"Over {SEEDS} fine-tune seeds, {result['model']} at "
        f"{HEAD_TO_HEAD[result['model']]:.0%}:",
        "",
        "| method | parameters | mean | std | runs |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for row in result["seeds"]:
        runs = ", ".join(f"{v:.4f}" for v in row["values"])
        lines.append(
            f"| {row['method']} | {row['params']:,} ({row['ratio']:.1%}) | "
            f"{row['mean']:.4f} | {row['std']:.4f} | {runs} |"
        )
    return [*lines, ""]


def _order_table(result):
    if not result.get("order"):
        return []
    lines = [
        f"Order of importance pruning and folding, {result['model']}:",
        "",
        "| order | 25% | 10% |",
        "| --- | ---: | ---: |",
    ]
    for method in dict.fromkeys(r["method"] for r in result["order"]):
        values = {r["target"]: r for r in result["order"] if r["method"] == method}
        lines.append(
            f"| {method} | {_cell(values.get(0.25))} | {_cell(values.get(0.1))} |"
        )
    return [*lines, ""]


def _cell(row):
    if row is None or row["value"] is None:
        return "–"
    return f"{row['value']:.4f} ({row['ratio']:.1%})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="mlp_2.8m,deep_mlp,cnn,regression")
    parser.add_argument("--epochs", type=int, default=5, help="fine-tune epochs")
    parser.add_argument(
        "--render",
        action="store_true",
        help="only redraw the tables and the figure from the result file",
    )
    args = parser.parse_args()
    path = pathlib.Path(__file__).parent / "results" / "compare_methods.json"
    if args.render:
        results = json.loads(path.read_text())["models"]
    else:
        results = []
        for name in args.models.split(","):
            result = run_model(name, args.epochs)
            result["within_1pt"] = within_1pt(result)
            print_table(result)
            results.append(result)
        write_results(
            "compare_methods",
            dict(finetune_epochs=args.epochs, sizes=SIZES, models=results),
        )
    path.with_suffix(".md").write_text(markdown(results))
    print(f"wrote {path.with_suffix('.md')}")
    plot(results)


if __name__ == "__main__":
    main()
