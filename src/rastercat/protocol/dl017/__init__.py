"""The 2018 catalog wire protocol ("dl017", what the 0.17 client speaks), in one package.

- :mod:`.documents`: JSON:API documents of the Catalog service, flat objects of Metadata, and
  the one date format of both;
- :mod:`.uploads`: the upload result shape (§2.8);
- :mod:`.continuation`: the continuation tokens (metadata searches, upload listings) and the caps
  on counts a client sends;
- :mod:`.requests`: typed request models parsed once at the edge (metadata search, tiles).

No HTTP framework and no SQL here: routes parse with these and serve these shapes.
"""
