#!/usr/bin/env python3
"""Python reference for listen-bench: faster-whisper (int8, float32) and pywhispercpp.

Each engine runs warm in its own subprocess (so its peak RSS is its own): load the
model once, one warm-up transcription, then the median wall time of N transcriptions
per clip, each done the usual way from the WAV path, with the same initial prompt
(today's names) the box gives whisper.cpp. Prints one JSON object on stdout:
  {"engines": {NAME: {"rss_mb": F, "clips": {PATH: {"median_ms": F, "text": S}}}}}
with NAME in ENGINES and PATH each WAV path exactly as given.
Errors go to stderr with a non-zero exit. Nothing is downloaded: model paths must exist.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

ENGINES = ["faster-whisper-int8", "faster-whisper-float32", "pywhispercpp"]


def load(engine, args):
    """Returns a function path -> transcript text."""
    if engine.startswith("faster-whisper-"):
        os.environ["HF_HUB_OFFLINE"] = "1"
        from faster_whisper import WhisperModel

        model = WhisperModel(args.ct2_dir, device="cpu", compute_type=engine.rsplit("-", 1)[1],
                             cpu_threads=args.threads, num_workers=1)

        def run(path):
            segments, _ = model.transcribe(
                path, beam_size=1, language="en", without_timestamps=True,
                vad_filter=False, condition_on_previous_text=False,
                initial_prompt=args.prompt or None)
            return "".join(s.text for s in segments).strip()  # consuming it does the decoding
        return run

    from pywhispercpp.model import Model

    model = Model(args.ggml, params_sampling_strategy=0, n_threads=args.threads,  # 0 = greedy
                  language="en", no_timestamps=True, greedy={"best_of": 1}, no_context=True,
                  initial_prompt=args.prompt or None, print_progress=False, print_realtime=False)
    return lambda path: "".join(s.text for s in model.transcribe(path)).strip()


def run_engine(engine, args):
    out = os.fdopen(os.dup(1), "w")  # JSON goes here; native prints to fd 1 go to stderr
    os.dup2(2, 1)
    transcribe = load(engine, args)
    transcribe(args.wavs[0])  # warm-up
    clips = {}
    for path in args.wavs:
        times, text = [], ""
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            text = transcribe(path)
            times.append((time.perf_counter() - t0) * 1000)
        clips[path] = {"median_ms": round(statistics.median(times), 1), "text": text}
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    json.dump({"rss_mb": round(rss_mb, 1), "clips": clips}, out)
    out.flush()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ct2-dir", required=True, help="faster-whisper (CTranslate2) tiny.en dir")
    p.add_argument("--ggml", required=True, help="ggml tiny.en file for pywhispercpp")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--prompt", default="", help="initial prompt (the box's: today's names)")
    p.add_argument("--engine", choices=ENGINES, help="internal: run one engine in this process")
    p.add_argument("wavs", nargs="+", help="16 kHz mono WAV files")
    args = p.parse_args()
    for path, ok in [(os.path.join(args.ct2_dir, "model.bin"), os.path.isfile),
                     (args.ggml, os.path.isfile)] + [(w, os.path.isfile) for w in args.wavs]:
        if not ok(path):
            p.error(f"not found: {path}")
    if args.repeat < 1 or args.threads < 1:
        p.error("--repeat and --threads must be >= 1")

    if args.engine:
        run_engine(args.engine, args)
        return
    # One subprocess per engine, one after the other, so none competes for the cores.
    base = [sys.executable, os.path.abspath(__file__), "--ct2-dir", args.ct2_dir, "--ggml", args.ggml,
            "--threads", str(args.threads), "--repeat", str(args.repeat), "--prompt", args.prompt]
    engines = {}
    for engine in ENGINES:
        r = subprocess.run(base + ["--engine", engine, "--"] + args.wavs, stdout=subprocess.PIPE, text=True)
        if r.returncode != 0:
            sys.exit(f"listen_reference: engine {engine} failed (exit {r.returncode})")
        engines[engine] = json.loads(r.stdout)
    json.dump({"engines": engines}, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # argparse and sys.exit pass through; anything else is reported briefly
        sys.exit(f"listen_reference: {type(e).__name__}: {e}")
