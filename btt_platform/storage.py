"""Static files: whitenoise's compressed storage with hashed names, ES module imports included."""

from __future__ import annotations

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):  # type: ignore[misc]
    """Hashed, compressed copies of every static file; ``import ... from "./x.js"`` in a module
    is rewritten to the hashed name too, so a page's script and the modules it imports always
    come from the same deploy (and are cached for ever together)."""

    support_js_module_import_aggregation = True
