"""Plan: which neurons fold where, and the exact size (pure NumPy).

`decisions` turns rates into per-site decisions (`make_plan`), `layout`
counts the parameters of the rebuilt graph from structure alone,
`selection` searches subsets of sites, and `policies` choose the
threshold (fixed, size target, step search, metric guard). Nothing here
imports Keras.
"""
