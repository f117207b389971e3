"""Keyframe candidates kept during the detection decode (pure pool logic, no media)."""

from __future__ import annotations

import numpy as np

from analyzers.shots.candidates import Candidate, CandidatePool, choose

I420 = np.full((12, 8), 128, np.uint8)  # an 8x8 grey picture as sampled (I420)


def _cand(frame: int, sharp: float, std: float = 40.0) -> Candidate:
    return Candidate(frame, frame / 25, sharp, std, I420.copy())


def test_pool_keeps_best_per_stretch_and_seals_ended_ones() -> None:
    pool = CandidatePool(lag=20, keep=2)
    for f in range(0, 100, 5):
        pool.add(_cand(f, sharp=100.0 if f == 50 else float(f % 7)))
        # Boundaries are confirmed a few frames late, always within the lag.
        if f == 60:
            pool.mark([50], [])
        if f == 85:
            pool.mark([], [("dissolve", 70, 80)])
        pool.settle(f)
        assert len(pool.open) <= 2 * 2 + 20 // 5 + 1  # kept + a lag's worth, any length
    pool.settle(200)
    sealed = pool.finish()
    assert all(c.image is None and c.jpeg[:2] == b"\xff\xd8" for c in sealed)
    for lo, hi in [(0, 50), (50, 70), (80, 200)]:
        assert len([c for c in sealed if lo <= c.frame < hi]) <= 2
    # Frame 50 is the sharpest but right at a cut: the stretch keeps two others.
    assert [c.frame for c in sealed if 50 <= c.frame < 70] == [55, 60]
    assert Candidate.from_json(sealed[0].to_json()).jpeg == sealed[0].jpeg
    assert sealed[0].rgb().shape == (8, 8, 3)


def test_choose_keeps_keyframe_rules() -> None:
    cands = [_cand(10, 50.0), _cand(11, 90.0), _cand(15, 70.0, std=2.0), _cand(20, 60.0)]
    frames = [c.frame for c in cands]
    # 11 is inside a transition, 15 is blank, 20 is the shot's last-but-one frame.
    c = choose(cands, frames, 0, 22, excluded={11})
    assert c is not None and c.frame == 10
    assert choose(cands, frames, 0, 22, excluded=set()).frame == 11
    assert choose(cands, frames, 12, 16, excluded=set()) is None  # only a blank one
