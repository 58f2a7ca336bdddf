"""Scenes: catalog images as objects you read onto a geographic context (protocol §5).

::

    scene, ctx = scenes.Scene.from_id(image_id)
    arr = scene.ndarray("blue", ctx.assign(resolution=30), mask_alpha=False)
    found, ctx = scenes.search(aoi_geojson, products=[product_id])
"""

from rastercat.client.scenes.collection import SceneCollection
from rastercat.client.scenes.display import display
from rastercat.client.scenes.geocontext import AOI, DLTile, GeoContext
from rastercat.client.scenes.scene import Scene
from rastercat.client.scenes.search import search

__all__ = ["AOI", "DLTile", "GeoContext", "Scene", "SceneCollection", "display", "search"]
