"""Layer kinds: what the engine knows about each kind of Keras layer.

One class per kind; `graph/registry.py` maps layer classes to them. A kind
declares in one place everything the engine asks about a layer: its role
in fold sites, the kernel layout, how to make narrower copies and
shortcuts, whether constants fold into it exactly, and its interval rule
for certification.
"""
