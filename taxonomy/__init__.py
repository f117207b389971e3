"""The controlled vocabulary as versioned data: ``load()`` a validated ``Taxonomy``."""

from taxonomy.loader import TaxonomyError, default_path, load
from taxonomy.model import Taxonomy

__all__ = ["Taxonomy", "TaxonomyError", "default_path", "load"]
