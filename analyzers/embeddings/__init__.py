"""Content embedding spaces of a title and the fused vector (pure: plain values in, vectors out).

- ``visual`` (shot, title): CLIP/SigLIP keyframe embeddings; title = duration-weighted mean.
- ``text`` (segment, title): MiniLM on ~25 s transcript windows; title = weighted mean.
- ``profile`` (scene, title): the mood/tone arc and maturity descriptor levels, in a fixed
  label order per taxonomy version.
- ``style`` (shot, title): standardised pace and look per shot, and the title's audio cues.
- ``fused`` (title): the present spaces, weighted (:mod:`analyzers.embeddings.fused`).

Every space is ``name@version``: the version hashes everything that changes its vectors (code
version, model, dimension, standardisation statistics, label order), so vectors of two
versions never mix. Every vector is L2-normalised float32; a space that cannot be computed
returns an absence with its reason, never a made-up vector.
"""

from analyzers.embeddings.base import SpaceOutput, SpaceSpec, VectorOut, digest, unit

__all__ = ["SpaceOutput", "SpaceSpec", "VectorOut", "digest", "unit"]
