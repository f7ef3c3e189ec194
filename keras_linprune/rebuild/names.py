"""Layer names in the rebuilt model: unique, and the original names kept
where a layer is replaced."""


class Names:
    """Hands out layer names that do not clash.

    Args:
        taken: Names already in use (every layer of the original graph).

    Example:

    >>> names = Names({"dense"})
    >>> names.unique("dense"), names.unique("dense"), names.claim("dense")
    ('dense_1', 'dense_2', 'dense')
    """

    def __init__(self, taken):
        self._used = set(taken)
        self._claimed = set()

    def unique(self, name):
        """`name`, or `name_<i>` with the smallest free `i`."""
        if name not in self._used:
            self._used.add(name)
            return name
        i = 1
        while f"{name}_{i}" in self._used:
            i += 1
        self._used.add(f"{name}_{i}")
        return f"{name}_{i}"

    def claim(self, name):
        """`name` itself the first time (an original layer name handed to
        the layer that replaces it), then a unique variant."""
        if name in self._claimed:
            return self.unique(name)
        self._claimed.add(name)
        return name
