"""Figures the commands write as `.png` files (`--plot`)."""

from keras_linprune.files import outputs


def check_plot(args, sources):
    """Checks `args.plot` (an output `.png`) and that matplotlib is there."""
    import importlib.util

    if not args.plot:
        return
    outputs.check_writable(args.plot, "plot", ".png", force=args.force, inputs=sources)
    if importlib.util.find_spec("matplotlib") is None:
        raise ValueError('--plot needs matplotlib: pip install "keras_linprune[plot]"')


def save_png(path, draw, size=(6, 4)):
    """Draws `draw(ax)` on a new figure and writes it to `path` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots(figsize=size)
    try:
        draw(ax)
        figure.tight_layout()
        figure.savefig(path, format="png")
    finally:
        plt.close(figure)
