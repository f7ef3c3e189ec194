"""Which features refit's second moments cover, per site (moment planning).

A site's sums (`moments.SiteMoments`) cover the feature `Block`s its
producer's terms read: one block per term's source, read with that term's
geometry (a convolution's patches, a flattened input). `site_blocks` lists
them for one plan's terms (refit's own pass); `for_any_plan` for every
term any plan can give a producer (`measure(..., moments=True)`), so that
any later plan refits from statistics.
"""

from keras_linprune.graph import registry
from keras_linprune.measurement.moments import Block
from keras_linprune.plan import layout as layout_lib


def unfit_reason(analysis, site):
    """Why refit cannot fit `site` whatever the plan (`""` if it can): a
    producer called at several places has one kernel for different rows."""
    if len(analysis.found.bindings[site.name].tensor) > 1:
        return "shared layer"
    return ""


def site_blocks(analysis, terms, skip_unfit=False):
    """The `Block`s of a producer's terms, a list of `(source key, taps,
    geometry signature)`, or the reason refit cannot read one of them
    (with `skip_unfit`, such terms are left out instead: a plan reading
    one keeps the plain fold anyway)."""
    layers = geometry_layers(analysis)
    widths = analysis.spec.source_widths
    blocks = []
    for source, taps, signature in terms:
        layer = layers[signature]
        kind = registry.linear_kind(layer)
        if not kind.fits_by_rows:
            if skip_unfit:
                continue
            return f"a {type(layer).__name__} term"
        blocks.append(
            Block(source, signature, widths[source], kind.tap_shape(layer, taps))
        )
    return tuple(blocks)


def geometry_layers(analysis):
    """Geometry signature -> a layer applying its kernel that way (equal
    signatures read their sources alike)."""
    return {
        lin.geometry: analysis.operations[name]
        for name, lin in analysis.spec.linears.items()
    }


def for_any_plan(analysis):
    """Per site refit can fit, every feature `Block` its producer reads
    under any plan (`layout.possible_terms`): what `measure(...,
    moments=True)` sums so that any later plan refits from statistics."""
    terms = layout_lib.possible_terms(analysis.spec)
    out = {}
    for site in analysis.spec.sites:
        if unfit_reason(analysis, site):
            continue
        blocks = site_blocks(analysis, terms[site.producer], True)
        if blocks:
            out[site.name] = blocks
    return out
