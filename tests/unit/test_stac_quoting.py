"""The quick paths of STAC links quote exactly as ``urllib.parse`` does: an id of plain characters
skips the per-character walk, anything else goes through ``quote``/``quote_plus`` as before."""

from __future__ import annotations

import random
from urllib.parse import quote, quote_plus

import pytest

from rastercat.api.routes.stac import _signed
from rastercat.protocol.stac.links import Links, _quoted_id, quote_plus_id

ODD = [
    "", "ns:p:img_1.tif", "a~b-c.d", "with space", "a+b", "a/b", "a%3Ab", "é", "日本", "a\nb",
    "a&b=c", "?#", "tab\tx", "x" * 300, "a:b\n",
]  # fmt: skip


@pytest.mark.parametrize("value", ODD)
def test_ids_are_quoted_as_urllib_quotes_them(value: str) -> None:
    assert quote_plus_id(value) == quote_plus(value)
    assert _quoted_id(value) == quote(value, safe=":")


def test_random_strings_are_quoted_as_urllib_quotes_them() -> None:
    rng = random.Random(3)
    alphabet = "azAZ09_.~-:%+/ &=?#\n\té日"
    for _ in range(5000):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 10)))
        assert quote_plus_id(value) == quote_plus(value), value
        assert _quoted_id(value) == quote(value, safe=":"), value


def test_links_and_signatures_keep_their_form() -> None:
    links = Links("http://h/stac/v1")
    assert links.url("/search") == "http://h/stac/v1/search"
    assert links.url("/search", {"a": None}) == "http://h/stac/v1/search"
    assert links.url("/search", {"a": "b c"}) == "http://h/stac/v1/search?a=b+c"
    assert links.item("ns:p", "ns:p:a b") == "http://h/stac/v1/collections/ns:p/items/ns:p:a%20b"
    assert (
        _signed({"id": "ns:p:k", "expires": "12", "sig": "ab"}) == "id=ns%3Ap%3Ak&expires=12&sig=ab"
    )
