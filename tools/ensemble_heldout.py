"""Single seeds against ensembles of seeds on a held-out set: the distribution, not the best run.

    python tools/ensemble_heldout.py --members exp/digits_ens/seed{0,1,2,3}/averaged.pt \
        --manifest pipelines/digits/data/fsdd/dev_strings.jsonl pipelines/digits/data/fsdd/dev_isolated.jsonl \
        --size 3 [--json out.json]

Each member (a checkpoint or an fp32 ONNX file of one recipe) runs once over every manifest
(greedy decoding through `recog.runtime.evaluation`, log-probs kept); every subset of `--size`
members is then scored three ways:
- frame level: the members' per-frame posteriors averaged, log((1/M) Σ p_m), then greedy
  decoding: what `recog export A B C --combine frame` writes computes (tested to 1e-4 in
  tests/test_ensemble_export.py);
- sequence level by likelihood ("rescore"): each member decoded greedily, then the text with
  the highest summed CTC log-likelihood under the members: what `recog export A B C` writes by
  default (`recog.decode.member_choice`);
- sequence level by MBR: the minimum-Bayes-risk choice among the members' texts (the one with
  the smallest sum of word edit distances to the others).
Prints, per manifest, each member's WER, each subset's both ways, and the mean and spread
(min-max, sample standard deviation) of each group; `--json` writes the same numbers.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
from pathlib import Path

import numpy as np

from recog.decode.greedy import greedy_decoder
from recog.decode.member_choice import choose, mean_of_members
from recog.metrics import ErrorCounts, edit_distance
from recog.runtime import Recognizer
from recog.runtime.evaluation import evaluate


def member_outputs(path: str, manifests: list[str]) -> tuple[Recognizer, dict[str, tuple[list, list, float, float]]]:
    """Per manifest: (log-probs per utterance, references, WER %, CER %) of one member."""
    rec = Recognizer.load(path, threads=0, keep_log_probs=True)
    out = {}
    for manifest in manifests:
        result = evaluate(rec, manifest, progress=False)
        if result.failed:
            raise SystemExit(f"error: {path} could not read {len(result.failed)} input(s) of {manifest}")
        out[manifest] = (result.log_probs, [r[1] for r in result.rows], result.wer, result.cer)
    return rec, out


def ensemble_rates(outputs: list[tuple[list, list, float, float]], decode) -> tuple[float, float]:
    """WER, CER (percent) of the mean of the members' posteriors, greedy."""
    references = outputs[0][1]
    counts = ErrorCounts()
    for i, ref in enumerate(references):
        stacked = np.stack([o[0][i] for o in outputs], axis=1)  # [T', M, V]
        counts.add(ref, decode(mean_of_members(stacked)))
    return counts.wer, counts.cer


def mbr_pick(hypotheses: list[str]) -> str:
    """The minimum-Bayes-risk choice among the members' texts: the one with the smallest sum of
    word edit distances to the others (equal members weigh equally; ties go to the first member)."""
    words = [h.split() for h in hypotheses]
    costs = [sum(edit_distance(w, other) for other in words) for w in words]
    return hypotheses[costs.index(min(costs))]


def mbr_rates(outputs: list[tuple[list, list, float, float]], decode) -> tuple[float, float]:
    """WER, CER (percent) of the sequence-level combination: each member decoded greedily, then
    the MBR choice among their texts."""
    references = outputs[0][1]
    counts = ErrorCounts()
    for i, ref in enumerate(references):
        counts.add(ref, mbr_pick([decode(o[0][i]) for o in outputs]))
    return counts.wer, counts.cer


def rescore_rates(outputs: list[tuple[list, list, float, float]], decode_result) -> tuple[float, float]:
    """WER, CER (percent) when each member decodes greedily and the text the members together
    find most probable is kept (`recog.decode.member_choice.choose`, as the runtime does)."""
    references = outputs[0][1]
    counts = ErrorCounts()
    for i, ref in enumerate(references):
        member_lps = [o[0][i] for o in outputs]
        counts.add(ref, choose([decode_result(lp) for lp in member_lps], member_lps).text)
    return counts.wer, counts.cer


def spread(values: list[float]) -> dict[str, float]:
    """mean, min, max and sample standard deviation (0 for one value), rounded to 0.01."""
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": round(statistics.fmean(values), 2), "min": round(min(values), 2), "max": round(max(values), 2),
            "sd": round(sd, 2), "n": len(values)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--members", nargs="+", required=True, help="checkpoints (.pt) or fp32 ONNX files of one recipe")
    ap.add_argument("--manifest", nargs="+", required=True, help="held-out manifests")
    ap.add_argument("--size", type=int, default=3, help="members per ensemble")
    ap.add_argument("--json", default=None, help="also write the figures here")
    args = ap.parse_args()
    if not 2 <= args.size <= len(args.members):
        raise SystemExit(f"error: --size must be between 2 and the number of members ({len(args.members)})")
    per_member = {}
    decode = None
    for path in args.members:
        print(f"running {path} ...", file=sys.stderr)
        rec, per_member[path] = member_outputs(path, args.manifest)
        greedy = greedy_decoder(rec.info.alphabet, rec.info.frame_rate)
        decode = lambda lp, g=greedy: g(lp).text  # noqa: E731
    report: dict = {"members": args.members, "size": args.size, "manifests": {}}
    for manifest in args.manifest:
        singles = {p: per_member[p][manifest][2] for p in args.members}
        frame, sequence, rescored = {}, {}, {}
        for combo in itertools.combinations(args.members, args.size):
            outputs = [per_member[p][manifest] for p in combo]
            frame[" + ".join(combo)] = round(ensemble_rates(outputs, decode)[0], 2)
            sequence[" + ".join(combo)] = round(mbr_rates(outputs, decode)[0], 2)
            rescored[" + ".join(combo)] = round(rescore_rates(outputs, greedy)[0], 2)
        report["manifests"][manifest] = {
            "single_wer": {p: round(w, 2) for p, w in singles.items()}, "single": spread(list(singles.values())),
            "frame_mean_wer": frame, "frame_mean": spread(list(frame.values())),
            "sequence_mbr_wer": sequence, "sequence_mbr": spread(list(sequence.values())),
            "sequence_rescored_wer": rescored, "sequence_rescored": spread(list(rescored.values()))}
        print(f"\n{manifest}")
        for p, w in singles.items():
            print(f"  single            {w:6.2f}  {p}")
        for name in frame:
            print(f"  frame mean        {frame[name]:6.2f}  {name}")
            print(f"  sequence (MBR)    {sequence[name]:6.2f}  {name}")
            print(f"  sequence (rescore){rescored[name]:6.2f}  {name}")
        for key in ("single", "frame_mean", "sequence_mbr", "sequence_rescored"):
            print(f"  {key:14s} {report['manifests'][manifest][key]}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
