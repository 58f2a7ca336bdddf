"""What the catalog's read side needs from a store, as protocols: the catalog depends on these,
:mod:`rastercat.store.sql` implements them (:class:`~rastercat.store.sql.search.SqlCatalogReads`,
:class:`~rastercat.store.sql.stac.SqlStacReads`, :mod:`rastercat.store.sql.viewer`). Arguments
and results are plain values: ids, principal names, parsed query values, rows as dicts, tuples and
small frozen dataclasses."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

Fact = tuple[str, float | None, int, int, int]
"""What a summary counts: product id, date (epoch seconds; or the start of its interval), number
of images, their bytes and their pixels (one image, or a group of them the database summed)."""
"""What a summary needs of one image: product id, date (Unix seconds; None: none), bytes, pixels."""

Row = dict[str, Any]


@dataclass(frozen=True)
class ProductAcls:
    """Every product's ``id``, ``uid`` and ACL rows, read at ``version`` of the products."""

    version: int
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class Versions:
    """The catalog's versions of its users and memberships (migration 0008) and of its products
    (migration 0007), as a process read them along with a caller it remembers."""

    users: int
    products: int


class StaleSnapshot(Exception):
    """A guarded read (``Repo.guarded``) found the catalog's users or products changed since the
    versions it assumed: the request is answered again, its caller authenticated afresh. Caught
    where the guarded read starts (``rastercat.api.deps.read_as_caller``); never an answer."""


Position = tuple[float | None, int]
"""A place in date order: (acquired, pk) of the last image read."""


class Reader(Protocol):
    """The caller as the SQL form of the read rule sees it: the names it answers to in ACLs."""

    @property
    def principals(self) -> frozenset[str]: ...

    @property
    def is_admin(self) -> bool: ...


@dataclass(frozen=True)
class Area:
    """The lon/lat box of a search area, and the acquisition window (Unix seconds; None:
    unbounded) the spatial index may use too."""

    bbox: tuple[float, float, float, float]
    start: float | None = None
    end: float | None = None


@dataclass(frozen=True)
class ImageFilter:
    """Which images a search reads from the store: every condition holds (None: no condition).
    The store may return more (its area test is on bounding boxes; ``attrs`` is narrowed only
    where SQL can), never fewer: the catalog checks each row exactly."""

    product_uids: tuple[str, ...] | None = None
    acquired_from: float | None = None
    acquired_to: float | None = None
    area: Area | None = None
    attrs: Any = None
    """A property expression (the ``query_expr`` grammar), narrowed in SQL where it can be."""
    ids: tuple[str, ...] | None = None
    compiled: tuple[Any, ...] = ()
    """Conditions compiled by the store itself (:meth:`CatalogReads.compile_filter`)."""
    id_after: str | None = None
    id_before: str | None = None


@dataclass(frozen=True)
class ImageOrder:
    """The order of search results: by date (``field`` and ``seed`` None; pages continue from a
    :data:`Position`), by an image property, or pseudo-random by ``seed``. Ties by pk."""

    desc: bool = False
    field: str | None = None
    seed: Any = None

    @property
    def by_date(self) -> bool:
        return self.field is None and self.seed is None


@dataclass(frozen=True)
class CompiledFilter:
    """A CQL2 filter compiled by the store: an opaque condition (for :attr:`ImageFilter.compiled`)
    and the exact footprint checks the catalog runs on each candidate."""

    clause: Any
    refine: Callable[[Mapping[str, Any]], bool] | None = None


class CatalogReads(Protocol):
    """Products, bands and images as the Metadata service reads them."""

    @property
    def dialect(self) -> str: ...

    def products(self, ids: Sequence[str] | None = None) -> list[Row]:
        """Every product (``ids``: these only), by id."""
        ...

    def product_acls(self) -> ProductAcls:
        """Every product's ``id``, ``uid`` and permission lists, by id (what a search needs),
        with the version of the products they were read at: the same object for as long as no
        product changes (callers must not modify it)."""
        ...

    def product(self, pid: str) -> Row | None: ...

    def bands_of(self, product_uids: Sequence[str]) -> list[Row]:
        """The bands of these products, in creation order."""
        ...

    def bands_with_product_acl(
        self, *, product_ids: Sequence[str] | None = None, band_id: str | None = None
    ) -> list[Row]:
        """Band rows with their product's ACL (``p_owners``, ``p_readers``, ``p_writers``)."""
        ...

    def images_with_product_acl(self, ids: Sequence[str]) -> list[Row]:
        """Image rows by id with their product's ACL (``p_owners`` ...)."""
        ...

    def image_batches(
        self,
        where: ImageFilter,
        order: ImageOrder,
        sizes: Iterator[int],
        *,
        after: Position | None = None,
        page: float = float("inf"),
    ) -> Iterator[list[Row]]:
        """Image rows matching ``where`` in ``order``, one batch per size drawn from ``sizes``,
        until a batch comes short. ``after``: start after this place (date order). ``page``: how
        many matches the caller expects, for the store's choice of index."""
        ...

    def summary_facts(
        self, where: ImageFilter, reader: Reader, unit: str | None, pixels: bool = True
    ) -> Iterator[Fact]:
        """Summary facts of the images matching ``where`` that ``reader`` may read, summed per
        product and ``unit`` of time (``year``, ``quarter``, ``month``, ``week``, ``day``,
        ``hour``, ``minute``: each group's date is its start, in UTC; None: per product).
        ``pixels=False``: pixel counts are not needed (0)."""
        ...

    def compile_filter(self, node: Any) -> CompiledFilter:
        """A CQL2-JSON filter as a condition of :class:`ImageFilter`."""
        ...


class StacReads(Protocol):
    """What STAC Collections add: product extents and the names of extra properties."""

    def extents(self, product_uids: Sequence[str]) -> dict[str, tuple[Any, ...]]:
        """(minx, miny, maxx, maxy, first, last) of each product's images, by uid."""
        ...

    def extra_property_kinds(
        self, product_uids: Sequence[str], sample: int
    ) -> list[tuple[str, str]]:
        """(name, kind) of the extra properties of each product's newest ``sample`` images."""
        ...

    def image(self, image_id: str) -> Row | None: ...


class ViewerReads(Protocol):
    """What tile layers and the viewer read beyond the Metadata search."""

    def image_boxes(self, product_uid: str) -> list[Row]:
        """Bounding boxes and ACLs of a product's images that have one."""
        ...

    def recent_uploads(self, owner_pk: int, product_uids: Sequence[str], limit: int) -> list[Row]:
        """A user's newest uploads into these products, newest first."""
        ...
