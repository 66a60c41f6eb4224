"""Serve SQL: the ``news.duckdb`` catalog of views over the warehouse (``views``), the SQL model
that documents and tests every view column (``sqlmodel``, ``sql/models.yml``) and the README's
generated references (``docs``).

The catalog's entry points are re-exported here: ``from pipeline.catalog import connect``.
"""

from pipeline.catalog.views import (
    EXPORT_FORMATS,
    CatalogError,
    connect,
    export,
    query,
    refresh_catalog,
    serialise_rows,
    view_files,
)

__all__ = ["EXPORT_FORMATS", "CatalogError", "connect", "export", "query", "refresh_catalog",
           "serialise_rows", "view_files"]
