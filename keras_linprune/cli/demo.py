"""`linprune demo`: train a small MLP on scikit-learn digits and compress it."""

from keras_linprune.examples import demo


def add_parser(sub):
    parser = sub.add_parser(
        "demo", help="train a small MLP on scikit-learn digits and compress it"
    )
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    return parser


def run(args):
    demo.run(epochs=args.epochs, seed=args.seed)
    return 0
