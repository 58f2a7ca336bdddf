"""Storage backends: the catalog database (``sql``), object storage (``objects``), job delivery (``queue``)."""
