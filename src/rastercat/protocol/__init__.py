"""Wire formats other than the 2018 catalog protocol (which lives in ``rastercat.api``)."""
