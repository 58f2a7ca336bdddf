"""The rastercat SDK: HTTP clients for the Catalog, Metadata and Raster services, and Scenes.

It speaks only the public HTTP API and imports no server code.
"""
