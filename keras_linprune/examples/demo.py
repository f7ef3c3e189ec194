"""The main job: train a small MLP, compress it, compare accuracy.

Runs offline on scikit-learn's bundled handwritten digits (8x8 images).
"""

import time

import numpy as np

import keras_linprune as linprune


def load_digits_split(seed=0):
    """Digits as float32 in [0, 1]: `(x_train, y_train, x_test, y_test)`."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=0.3, random_state=seed, stratify=y
    )
    return x_tr, y_tr.astype("int32"), x_te, y_te.astype("int32")


def build_mlp(input_dim, classes, widths=(64, 128, 128, 256, 256), seed=0):
    """The paper's OpenML-style MLP: in-64-128-128-256-256-out, ReLU."""
    import keras

    keras.utils.set_random_seed(seed)
    x = keras.Input((input_dim,), name="features")
    h = x
    for i, w in enumerate(widths):
        h = keras.layers.Dense(w, activation="relu", name=f"dense_{i}")(h)
    y = keras.layers.Dense(classes, activation="softmax", name="probs")(h)
    model = keras.Model(x, y, name="digits_mlp")
    model.compile(
        optimizer="adam",
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def run(thresholds=(1.0, 0.99, 0.95), epochs=10, seed=0, out=print):
    """Trains, compresses at each threshold, prints reports and accuracy.

    Returns:
        A list of dicts: threshold, params, accuracy, max |delta| on the
        calibration data.
    """
    start = time.perf_counter()
    x_tr, y_tr, x_te, y_te = load_digits_split(seed)
    model = build_mlp(x_tr.shape[1], 10, seed=seed)
    out(
        f"Training {model.name} on scikit-learn digits "
        f"({len(x_tr)} train / {len(x_te)} test rows, {epochs} epochs)..."
    )
    model.fit(x_tr, y_tr, epochs=epochs, batch_size=32, verbose=0)
    base_acc = model.evaluate(x_te, y_te, verbose=0)[1]
    stats = linprune.measure(model, x_tr, verbose=0)
    rows = [
        dict(
            threshold="original",
            params=model.count_params(),
            accuracy=base_acc,
            max_abs_diff=0.0,
        )
    ]
    reference = model.predict(x_tr, verbose=0)
    for t in thresholds:
        small, report = linprune.apply(model, stats, threshold=t)
        acc = small.evaluate(x_te, y_te, verbose=0)[1]
        diff = float(np.abs(small.predict(x_tr, verbose=0) - reference).max())
        rows.append(
            dict(
                threshold=t,
                params=small.count_params(),
                accuracy=acc,
                max_abs_diff=diff,
            )
        )
    out("")
    out(f"Per site at threshold {thresholds[-1]} (the last one):")
    out(linprune.summary(report))
    out("")
    out(
        f"{'threshold':>10} {'params':>9} {'size':>7} {'test acc':>9} "
        f"{'max |diff| on calibration':>26}"
    )
    for r in rows:
        size = r["params"] / rows[0]["params"]
        out(
            f"{r['threshold']!s:>10} {r['params']:>9,} {size:>7.1%} "
            f"{r['accuracy']:>9.4f} {r['max_abs_diff']:>26.2e}"
        )
    out("")
    out(
        "Threshold 1.0 is exact on the calibration rows; lower thresholds "
        "trade accuracy"
    )
    out("for size. Next: `linprune.apply(model, x, target_size=0.2)` picks a size, and")
    out("`report.linprune.explain(site)` tells one site's story.")
    out(f"\nDone in {time.perf_counter() - start:.1f} s.")
    return rows
