"""Plan: which neurons fold where, and the exact size (pure NumPy).

`decisions` turns rates into per-site decisions and holds the `Plan`,
`planner` chooses the sites that fold (`make_plan`, `Planner`), `layout`
counts the parameters of the rebuilt graph from structure alone, `costs`
turns a layout into the objective, `selection` searches subsets of
sites, and `policies` choose the threshold (fixed, size target, step
search, metric guard). Nothing here imports Keras.
"""
