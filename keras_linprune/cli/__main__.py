"""`python -m keras_linprune.cli ...`."""

import sys

from keras_linprune.cli import main

sys.exit(main())
