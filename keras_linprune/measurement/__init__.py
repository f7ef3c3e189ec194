"""Measure: what the calibration data says about each site.

`data` validates and batches calibration inputs, `counting` runs the one
streaming pass that counts activation pieces, `stats` holds the result
(`ActivationStats`), `fingerprint` ties it to the model, `certify` proves
pieces on an input box instead, and `evaluation` scores models on
held-out data for sweeps and guards.
"""
