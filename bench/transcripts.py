"""Benchmark: utterances labelled per second, end to end on the CPU, for a 500-utterance session.

In one run, on the same session:
- end to end: parse the plain-text transcript, tokenize, encode, build features, apply the heads, compute the skill
  report (what ``alliance transcript report`` does after loading the model);
- the bare encoder forward pass on the same token batches (already tokenized and padded): the one pass that serves
  both members (the lower blocks as shipped, then the adapted top blocks), in the precision the model card names (int8
  weights) — the floor any labeller built on this encoder must pay;
- as baselines, the same pass with float32 weights, and the previous release's branched pass (int8), whose frozen
  member read the shipped top blocks too, so that they ran twice.
Prints utterances per second for each, the ratio end to end / encoder (goal: >= 300 utterances/s on 2 cores, <= 1.3x
the encoder) and the speed-ups over the baselines.

The session is 500 consecutive utterances of AnnoMI development transcripts (``../shared/data``; text is not stored).
Run: ``python bench/transcripts.py [--threads 2] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch

from alliance.transcripts import parse_annomi, parse_text, skills
from alliance.transcripts.labeller import FROZEN, Encoder, load_artefacts, load_labeller

DATA = Path(os.environ.get("ALLIANCE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def session_text(n: int) -> str:
    """``n`` utterances of AnnoMI sessions, one after another, as a ``T:``/``C:`` plain-text transcript."""
    lines: list[str] = []
    for transcript in parse_annomi(DATA / "annomi" / "AnnoMI-simple-dev.csv").values():
        for u in transcript.utterances:
            lines.append(("T: " if u.speaker == "therapist" else "C: ") + u.text)
            if len(lines) == n:
                return "\n".join(lines) + "\n"
    raise SystemExit(f"only {len(lines)} utterances in the data")


def best_of(repeat: int, run: object) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--utterances", type=int, default=500)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    text = session_text(args.utterances)
    started = time.perf_counter()
    labeller = load_labeller()
    load = time.perf_counter() - started
    transcript = parse_text(text)
    texts = [u.text for u in transcript.utterances]
    # One encoder pass serves both members (the frozen member reads the lower blocks, the adapted one the top ones).
    encoder = labeller.encoder
    batches = list(encoder.batches(encoder.tokenize(texts)))

    def forward_pass(graph: Encoder) -> Callable[[], None]:
        """The bare forward pass of ``graph`` over the session's token batches."""

        def run() -> None:
            for _, tokens, mask in batches:
                graph.forward(tokens, mask)

        return run

    artefacts = load_artefacts()
    bare = forward_pass(encoder)
    bare_float32 = forward_pass(Encoder(artefacts.specs, artefacts.adapter, precision="float32"))
    # The previous release: the frozen member pooled layers 1-6, so the shipped top blocks ran beside the adapted ones.
    previous_specs = {**artefacts.specs, "frozen": replace(FROZEN, layers=(1, 2, 3, 4, 5, 6), context_layer=6)}
    bare_previous = forward_pass(Encoder(previous_specs, artefacts.adapter, precision=encoder.precision))

    def end_to_end() -> None:
        skills(labeller.label(parse_text(text)))

    bare()  # warm up
    end_to_end()
    bare_float32()
    bare_previous()
    t_bare = best_of(args.repeat, bare)
    t_full = best_of(args.repeat, end_to_end)
    t_float32 = best_of(args.repeat, bare_float32)
    t_previous = best_of(args.repeat, bare_previous)
    n = len(transcript)
    print(
        f"transcript labeller, {n} utterances, {torch.get_num_threads()} threads, load {load:.1f} s (once per process)"
    )
    precision = encoder.precision
    ms = t_bare * 1000
    print(f"  bare encoder forward   {n / t_bare:8.0f} utterances/s  ({ms:.0f} ms, one pass, {precision})")
    print(f"  end to end (report)    {n / t_full:8.0f} utterances/s  ({t_full * 1000:.0f} ms)")
    print(f"  ratio end to end / encoder forward: {t_full / t_bare:.2f}x (goal <= 1.3x; >= 300 utterances/s)")
    speed_up = t_float32 / t_bare
    print(
        f"  baseline: float32 encoder forward {n / t_float32:6.0f} utterances/s; {precision} is {speed_up:.2f}x as fast"
    )
    print(
        f"  baseline: previous release's branched pass (top blocks twice, {precision}) {n / t_previous:6.0f} "
        f"utterances/s; this pass is {t_previous / t_bare:.2f}x as fast"
    )


if __name__ == "__main__":
    main()
