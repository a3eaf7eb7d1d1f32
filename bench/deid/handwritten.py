"""The hand-written evaluation set (``data/deid-handwritten/``): build its gold JSONL from the marked-up notes and
score the detector on it per label and per language, with the distractor flag rate and the speed.

``python -m bench.deid.handwritten [--split SPLIT|both|all|tuning] [--build] [--misses] [--write]``: ``SPLIT`` is
one of :data:`SPLITS`, ``both`` is dev and held-out part A, ``tuning`` every split but the blind one (:data:`BLIND`);
``--write`` writes ``bench/results/deid_handwritten.json`` and ``.md`` (``python -m bench.deid`` writes them too,
every split).

Markup in ``dev.txt`` / ``heldout.txt``: a note starts with ``### <lang> | <title> | <note date>``; ``[X|text]`` is
a PHI span of label ``X`` (see :data:`LABELS`), ``{text}`` a non-PHI distractor (a lab value, a dose, a code, an
invalid identifier, a disease name) that must stay. Lines starting with ``#`` before the first note are comments.
The gold JSONL has the ``fednode deid eval`` format plus a ``distractors`` list of ``{start, end}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import regex

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data" / "deid-handwritten"
SPLITS = (
    "dev",
    "heldout",
    "heldout2",
    "heldout3",
    "heldout4",
    "heldout5",
    "heldout6",
    "heldout7",
    "heldout8",
    "heldout9",
    "dev2",
    "heldout10",
    "heldout11",
    "heldout12",
    "heldout13",
    "heldout14",
    "heldout15",
    "dev3",
    "heldout16",
    "heldout17",
    "heldout18",
    "heldout19",
    "heldout20",
    "heldout21",
    "heldout22",
    "heldout23",
    "heldout24",
    "heldout25",
    "heldout26",
    "heldout27",
    "heldout28",
    "heldout29",
    "heldout30",
)
BLIND = "heldout30"
"""The part kept blind: written by writers who never saw the rules; whoever changes the rules never reads it.
Part J (``heldout10``) was blind until its one scoring with the session-6 rules, part L (``heldout11``) until its
scoring with the learned tagger trained without it, part M (``heldout12``) until its scoring in session 7, part N
(``heldout13``) until its scoring in session 8, part O (``heldout14``) until its scoring in session 9, part P
(``heldout15``) until its scoring in session 9, part Q (``heldout16``) until its scoring in session 10, part S
(``heldout17``) until its scoring in session 11, part T (``heldout18``) until its first scoring in session 12;
part U (``heldout19``, written in session 12 while the rules changed on T) until its scoring in session 12;
part V (``heldout20``, written at the start of session 13) until its scoring in session 13; part W (``heldout21``,
written meanwhile) until its scoring after V's misses were worked on; part X (``heldout22``, written meanwhile too)
until its scoring after W's misses were worked on; part Y (``heldout23``, the last of session 13) until its
scoring after X's misses were worked on. Part Z (``heldout24``, written at the start of session 14 before any rule
changed) until its scoring after Y's misses were worked on; part AA (``heldout25``, written meanwhile) until its
scoring after Z's misses were worked on; part AB (``heldout26``, the last of session 14, its writers told to check
every identity number with python-stdnum) until its scoring after AA's misses were worked on, then its own misses
were worked on (rules only); part AC (``heldout27``, written at the end of session 14 to the same brief) until its
scoring with everything else final. Part AD (``heldout28``, written at the start of session 15) until its scoring
after AB's and AC's misses were worked on and the tagger retrained on A-AC; part AE (``heldout29``, written meanwhile)
until its scoring after AD's misses were worked on and the tagger retrained on A-AD; part AF (``heldout30``, written
while AE's misses were worked on) is now, scored once at the end of session 15 with the rules after AE's misses and
the tagger trained on A-AE.
Part R (``dev3``) was written in session 10 by six further writers as development data."""

LABELS = {
    "P": "PERSON",
    "A": "ADDRESS",
    "L": "LOCATION",
    "O": "ORGANIZATION",
    "D": "DATE",
    "G": "AGE",
    "I": "ID",
    "N": "NATIONAL_ID",
    "T": "PHONE",
    "E": "EMAIL",
    "U": "URL",
}
_MARK = regex.compile(r"\[(?P<label>[A-Z])\|(?P<phi>[^\]\n]+)\]|\{(?P<distractor>[^}\n]+)\}")
_HEADER = regex.compile(r"^### (?P<lang>[a-z]{2}) \| (?P<title>[^|]+?) \| (?P<date>\d{4}-\d{2}-\d{2})$")

TARGETS = {"recall_all": 0.98, "recall_each": 0.95, "precision": 0.90, "distractors_flagged": 0.05}
"""Issue 15's goal (figures only: CI never asserts them)."""


def parse(source: str, split: str) -> list[dict[str, Any]]:
    """The notes of one marked-up file, with gold PHI and distractor offsets in the unmarked text."""
    notes: list[dict[str, Any]] = []
    body: list[str] = []
    header: dict[str, str] | None = None

    def flush() -> None:
        if header is None:
            return
        marked = "\n".join(body).strip("\n") + "\n"
        text, phi, distractors, cursor = "", [], [], 0
        for m in _MARK.finditer(marked):
            text += marked[cursor : m.start()]
            start = len(text)
            inner = m.group("phi") if m.group("phi") is not None else m.group("distractor")
            text += inner
            if m.group("phi") is not None:
                phi.append({"start": start, "end": len(text), "label": LABELS[m.group("label")]})
            else:
                distractors.append({"start": start, "end": len(text)})
            cursor = m.end()
        text += marked[cursor:]
        n = len(notes)
        notes.append(
            {
                "note_id": f"hw-{split}-{header['lang']}-{n:03d}",
                "person_source_value": f"hw-{split}-p{n:03d}",
                "note_date": header["date"],
                "title": header["title"],
                "lang": header["lang"],
                "text": text,
                "phi": phi,
                "distractors": distractors,
            }
        )

    for line in source.splitlines():
        m = _HEADER.match(line)
        if m:
            flush()
            header, body = m.groupdict(), []
        elif header is not None:
            body.append(line)
        elif line.strip() and not line.startswith("#"):
            raise ValueError(f"text before the first note header: {line[:40]!r}")
    flush()
    return notes


def sources(split: str) -> list[Path]:
    """The marked-up files of one split: ``<split>.txt``, or one file per language ``<split>-<lang>.txt``."""
    single = DATA / f"{split}.txt"
    files = [single] if single.exists() else sorted(DATA.glob(f"{split}-*.txt"))
    if not files:
        raise FileNotFoundError(f"{DATA}: no {split}.txt and no {split}-<lang>.txt")
    return files


def present() -> tuple[str, ...]:
    """The splits that have marked-up notes (a part being written may not yet)."""
    return tuple(s for s in SPLITS if (DATA / f"{s}.txt").exists() or any(DATA.glob(f"{s}-*.txt")))


def build(split: str) -> Path:
    """Write ``data/deid-handwritten/<split>.jsonl`` from its marked-up file(s), notes numbered across them."""
    notes: list[dict[str, Any]] = []
    for path in sources(split):
        for note in parse(path.read_text(encoding="utf-8"), split):
            n = len(notes)
            note["note_id"] = f"hw-{split}-{note['lang']}-{n:03d}"
            note["person_source_value"] = f"hw-{split}-p{n:03d}"
            notes.append(note)
    out = DATA / f"{split}.jsonl"
    out.write_text("".join(json.dumps(n, ensure_ascii=False) + "\n" for n in notes), encoding="utf-8")
    return out


def load(split: str) -> list[dict[str, Any]]:
    """The gold records of one split."""
    path = DATA / f"{split}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


_SEPARATORS = " ,.-–/:()\n"


def _overlaps(a: tuple[int, int], spans: Sequence[tuple[int, int]]) -> bool:
    return any(a[0] < e and s < a[1] for s, e in spans)


def score(notes: Sequence[dict[str, Any]], engine: Any) -> dict[str, Any]:
    """Entity recall/precision per label and per language, distractors flagged, misses, notes per CPU-second."""
    from deid.evaluate import ALL, ANY, evaluate

    cpu = time.process_time()
    preds = [engine.detect(n["text"], n["lang"]) for n in notes]
    cpu = time.process_time() - cpu
    pairs = []
    flagged = total_distractors = 0
    by_lang_distractors: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    misses: list[str] = []
    removed: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    partial: list[str] = []
    leaked: dict[str, int] = defaultdict(int)
    false_positives: list[str] = []
    for note, pred in zip(notes, preds, strict=True):
        gold = [(s["start"], s["end"], s["label"]) for s in note["phi"]]
        found = [(s.start, s.end, str(s.label)) for s in pred]
        pairs.append((note["lang"], gold, found))
        spans = [(s, e) for s, e, _ in found]
        for d in note.get("distractors", []):
            hit = _overlaps((d["start"], d["end"]), spans)
            flagged += hit
            total_distractors += 1
            by_lang_distractors[note["lang"]][0] += hit
            by_lang_distractors[note["lang"]][1] += 1
            if hit:
                false_positives.append(f"{note['note_id']} distractor {note['text'][d['start'] : d['end']]!r}")
        covered = {i for ps, pe, _ in found for i in range(ps, pe)}
        for s, e, label in gold:
            removed[label][0] += any(ps < e and s < pe for ps, pe, _ in found)
            removed[label][1] += 1
            left = [i for i in range(s, e) if i not in covered and note["text"][i] not in _SEPARATORS]
            if left:
                leaked[label] += 1
                partial.append(f"{note['note_id']} {label} {note['text'][s:e]!r} left {note['text'][left[0] : e]!r}")
            if not any(ps < e and s < pe and pl == label for ps, pe, pl in found):
                got = [f"{pl}:{note['text'][ps:pe]!r}" for ps, pe, pl in found if ps < e and s < pe]
                misses.append(f"{note['note_id']} {label} {note['text'][s:e]!r} got {got or 'nothing'}")
        for ps, pe, pl in found:
            if not any(ps < e and s < pe for s, e, _ in gold) and not _overlaps(
                (ps, pe), [(d["start"], d["end"]) for d in note.get("distractors", [])]
            ):
                false_positives.append(f"{note['note_id']} {pl} {note['text'][ps:pe]!r}")
    report = evaluate(pairs).to_dict()
    metrics: dict[str, dict[str, Any]] = report["metrics"]  # type: ignore[assignment]
    per_label = {
        k: {**v, "removed": round(removed[k][0] / removed[k][1], 4) if removed[k][1] else 1.0}
        for k, v in metrics[ALL].items()
        if k != ANY
    }
    per_lang = {lang: m[ANY] for lang, m in metrics.items() if lang != ALL}
    overall = metrics[ALL][ANY]
    lowest = min(
        [float(m["recall"]) for m in per_label.values()] + [float(m["recall"]) for m in per_lang.values()],
        default=1.0,
    )
    rate = flagged / total_distractors if total_distractors else 0.0
    return {
        "notes": len(notes),
        "overall": overall,
        "per_label": per_label,
        "per_language": per_lang,
        "distractors": {
            "total": total_distractors,
            "flagged": flagged,
            "rate": round(rate, 4),
            "per_language": {k: {"flagged": v[0], "total": v[1]} for k, v in sorted(by_lang_distractors.items())},
        },
        "notes_per_cpu_s": round(len(notes) / cpu, 1) if cpu else 0.0,
        "goal_met": {
            "recall_all": float(overall["recall"]) >= TARGETS["recall_all"],
            "recall_each": lowest >= TARGETS["recall_each"],
            "precision": float(overall["precision"]) >= TARGETS["precision"],
            "distractors_flagged": rate <= TARGETS["distractors_flagged"],
        },
        "spans_not_fully_removed": {"total": sum(leaked.values()), **dict(sorted(leaked.items()))},
        "misses": misses,
        "partly_removed": partial,
        "false_positives": false_positives,
    }


def markdown(name: str, res: dict[str, Any]) -> str:
    """Tables per label and per language for one split."""
    d = res["distractors"]
    o = res["overall"]
    lines = [
        f"### {name}: {res['notes']} hand-written notes",
        "",
        f"Overall entity recall **{o['recall']}**, precision **{o['precision']}** ({o['gold']} gold spans); "
        f"distractors flagged {d['flagged']}/{d['total']} (**{d['rate']:.1%}**); "
        f"{res['notes_per_cpu_s']} notes per CPU-second (short notes). Gold spans not fully removed (a character "
        f"left, like an apartment number): {res['spans_not_fully_removed']['total']}.",
        "",
        "Per label, *recall* counts a gold span found under its own label, *removed* found under any label (the",
        "text was replaced, with a surrogate of another kind).",
        "",
        "| label | gold | recall | removed | precision | char recall |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {k} | {m['gold']} | {m['recall']} | {m.get('removed', '')} | {m['precision']} | {m['char_recall']} |"
        for k, m in res["per_label"].items()
    ]
    lines += ["", "| language | gold | recall | precision | distractors flagged |", "|---|---|---|---|---|"]
    for lang, m in res["per_language"].items():
        dl = d["per_language"].get(lang, {"flagged": 0, "total": 0})
        lines.append(f"| {lang} | {m['gold']} | {m['recall']} | {m['precision']} | {dl['flagged']}/{dl['total']} |")
    return "\n".join(lines) + "\n"


def run(splits: Sequence[str], engine: Any = None) -> dict[str, Any]:
    """Score the given splits with one engine (built here unless given)."""
    if engine is None:
        from deid.engine import Deidentifier

        engine = Deidentifier(operator="tag", key=b"bench-handwritten-0123456789abcd")
    return {split: score(load(split), engine) for split in splits}


def write_results(results: dict[str, Any]) -> None:
    """``bench/results/deid_handwritten.json`` and ``.md`` (the miss lists stay out: they quote note text)."""
    import os
    import platform

    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    public = {split: {k: v for k, v in res.items() if k not in _TEXT_KEYS} for split, res in results.items()}
    machine: dict[str, Any] = {"cpus": os.cpu_count(), "loadavg": [round(x, 2) for x in os.getloadavg()]}
    machine["python"] = platform.python_version()
    doc = {"machine": machine, "targets": TARGETS, "splits": public}
    (out / "deid_handwritten.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    lines = [
        "# deid on hand-written notes (`data/deid-handwritten/`)",
        "",
        f"Goal (issue 15): entity recall >= {TARGETS['recall_all']} overall and >= {TARGETS['recall_each']} per "
        f"label and language, precision >= {TARGETS['precision']}, <= {TARGETS['distractors_flagged']:.0%} "
        "distractors flagged. Entity level: a gold span counts as found when a span of the same label overlaps it "
        "(the per-language figures count any label). The notes are invented, written by hand (the set's README); "
        "parts B-I were tuned on after their one blind run, whose figures `docs/deid.md` and the set's README keep; "
        "part K (`dev2`, 540 notes by six independent writers) was development data in session 6, part J "
        "(`heldout10`) blind until its one run with the round-1 rules (0.974) and then development data, parts L-P "
        "likewise, one or two each in sessions 7-10 (Q, `heldout16`, blind 0.979); part R (`dev3`, session 10) is "
        "development data; since then each session's new parts were scored once, blind, and then worked on. The "
        f"tagger is trained on every part but the blind one (`{BLIND}`), which is not among the tables below; "
        "docs/deid.md and the set's README keep each part's blind figure.",
        "",
    ]
    for split, res in results.items():
        lines.append(markdown(split, res))
    (out / "deid_handwritten.md").write_text("\n".join(lines), encoding="utf-8")


_TEXT_KEYS = frozenset({"misses", "partly_removed", "false_positives"})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--split", choices=[*SPLITS, "both", "all", "tuning"], default="dev")
    parser.add_argument("--build", action="store_true", help="rebuild the JSONL from the marked-up notes first")
    parser.add_argument("--misses", action="store_true", help="print every missed span and false positive")
    parser.add_argument("--write", action="store_true", help="write bench/results/deid_handwritten.{json,md}")
    args = parser.parse_args()
    groups = {"both": ("dev", "heldout"), "all": present(), "tuning": tuple(s for s in present() if s != BLIND)}
    splits = groups.get(args.split, (args.split,))
    if args.build:
        for split in splits:
            build(split)
    results = run(splits)
    if args.write:
        write_results(results)
    for split, res in results.items():
        print(markdown(split, res))
        if args.misses:
            print("\n".join(["misses:", *res["misses"], "partly removed:", *res["partly_removed"]]))
            print("\n".join(["false positives:", *res["false_positives"]]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
