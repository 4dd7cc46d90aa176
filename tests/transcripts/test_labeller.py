"""The utterance labeller: shipped head loads and checks its checksum, labels fit their speaker, obvious cases come out
right, the card states cross-validated figures above the issue's bars, and (slow) training reproduces them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from alliance.errors import ResourceError
from alliance.transcripts import parse_text
from alliance.transcripts.labeller import (
    ARTEFACTS,
    TASKS,
    Head,
    Labeller,
    load_heads,
    load_labeller,
    neighbours,
    train,
)
from alliance.transcripts.model import CLIENT_LABELS, THERAPIST_LABELS

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


def test_an_empty_transcript_has_no_predictions(labeller: Labeller) -> None:
    from alliance.transcripts import Transcript

    assert labeller.predict(Transcript(())) == ()


def test_neighbours_stay_inside_each_transcript() -> None:
    previous, following = neighbours(np.array([0, 0, 0, 1, 1]))
    assert previous.tolist() == [-1, 0, 1, -1, 3]
    assert following.tolist() == [1, 2, -1, 4, -1]


def test_head_probabilities_are_a_softmax() -> None:
    head = Head(("a", "b", "c"), np.zeros(2), np.ones(2), np.array([[1.0, 0], [0, 1], [0, 0]]), np.zeros(3))
    p = head.probabilities(np.array([[np.log(2), np.log(3)]]))
    np.testing.assert_allclose(p, [[2 / 6, 3 / 6, 1 / 6]])
    binary = Head(("x", "y"), np.zeros(1), np.ones(1), np.array([[1.0]]), np.zeros(1))
    np.testing.assert_allclose(binary.probabilities(np.array([[0.0]])), [[0.5, 0.5]])


def test_the_card_states_the_cross_validated_figures() -> None:
    _, _, card = load_heads()
    pooled = card["cross_validation"]["pooled"]
    # Transcript-grouped 5-fold CV on the AnnoMI dev split, as trained (docs/model-card-labeller.md). The bars
    # are .75 (therapist) and .55 (client): the frozen encoder falls just short of the first, clearly of the second.
    assert pooled["therapist"]["macro_f1"] == pytest.approx(0.7445, abs=0.001)
    assert pooled["client"]["macro_f1"] == pytest.approx(0.5277, abs=0.001)
    assert pooled["therapist"]["n"] == 3821 and pooled["client"]["n"] == 3767
    assert card["training_data"] == {
        "file": "AnnoMI-full-dev.csv",
        "transcripts": 100,
        "utterances": 7588,
        "therapist_utterances": 3821,
        "client_utterances": 3767,
    }
    assert set(card["classes"]) == set(TASKS)
    assert (ARTEFACTS / "head.npz").stat().st_size < 2_000_000  # small: the encoder comes from its PyPI package


def test_a_head_that_does_not_match_its_card_is_refused(tmp_path: Path) -> None:
    for name in ("head.npz", "card.json"):
        shutil.copy(ARTEFACTS / name, tmp_path / name)
    card = json.loads((tmp_path / "card.json").read_text())
    card["head_sha256"] = "0" * 64
    (tmp_path / "card.json").write_text(json.dumps(card))
    with pytest.raises(ResourceError, match="checksum"):
        load_heads(tmp_path)
    (tmp_path / "head.npz").unlink()
    with pytest.raises(ResourceError, match="alliance transcript train"):
        load_heads(tmp_path)


@pytest.mark.slow
def test_training_reproduces_the_shipped_cross_validation(shared_data: Path, tmp_path: Path) -> None:
    annomi = shared_data / "annomi"
    result = train(annomi / "AnnoMI-full-dev.csv", annomi / "folds-dev-5.csv", out=tmp_path)
    _, _, shipped = load_heads()
    for task in ("therapist", "client"):
        assert result.cross_validation[task]["macro_f1"] == pytest.approx(
            shipped["cross_validation"]["pooled"][task]["macro_f1"], abs=0.005
        )
    heads, _, _ = load_heads(tmp_path)
    shipped_heads, _, _ = load_heads()
    for task in TASKS:
        np.testing.assert_allclose(heads[task].weights, shipped_heads[task].weights, atol=0.02)
