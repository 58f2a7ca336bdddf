"""The STAC API 1.0 wire format: documents (landing page, collections, items), links and paging,
and the parsing of search requests. No HTTP framework and no SQL here: ``rastercat.api.routes.stac``
serves these documents, ``rastercat.catalog.stac_search`` runs the searches."""
