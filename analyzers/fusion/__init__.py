"""Fusion: signals + taxonomy -> tags with evidence, the mood arc, artwork candidates and
conservative rating suggestions (``ratings``)."""
