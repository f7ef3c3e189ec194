"""Files the package reads and writes: atomic writes, stats files, model and
data files for the command line."""
