"""Wire formats: ``dl017`` (the 2018 catalog protocol the 0.17 client speaks) and ``stac``."""
