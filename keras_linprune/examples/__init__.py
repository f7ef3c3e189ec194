"""Examples that ship with the package: the model zoo and the demo."""
