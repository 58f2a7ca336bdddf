"""The ``rastercat`` command line: a click group."""
