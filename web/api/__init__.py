"""The versioned recommender API (``/api/v1``) and its token authentication."""
