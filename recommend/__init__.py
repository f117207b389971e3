"""Recommendations over the enriched catalogue: a filtered vector index (:mod:`.index`),
natural-language query parsing (:mod:`.query`) and ranking with reasons (:mod:`.rank`).

Nothing here touches the database: :mod:`storage.catalog` loads the facts, the web
service feeds them in and applies change events.
"""
