"""The clinical support tool: repair suggestions with their sources, and a follow-up questionnaire for the client.

When a client is not on track or the relationship is strained, ana's client page shows suggestions ranked for that
client and lets her send a short follow-up; the client answers it through a one-time link (English or Spanish),
and the suggestions are re-ranked by the answers. ben (another therapist) gets 404, cleo (the supervisor) sees the
panel but may not send (403).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from clinic_factories import MakeClient, alliance, phq9
from django.test import Client as WebClient
from django.urls import reverse
from django.utils import timezone

from alliance.clinic.accounts.models import User
from alliance.clinic.alerts.models import Alert
from alliance.clinic.audit.models import AuditEvent
from alliance.clinic.checkins import links
from alliance.clinic.checkins.models import CheckIn, CheckinLink
from alliance.clinic.practice.models import Appointment, Client
from alliance.clinic.support.suggestions import (
    DOMAINS,
    NEED_ITEMS,
    NEEDS,
    STATUSES,
    bundled_suggestions,
    followup_needs,
    load_suggestions,
    strained_domains,
    suggest,
)
from alliance.errors import DefinitionError
from alliance.instruments import bundled_registry

PANEL = "Support tool: what might help now"
FORM_KEY = re.compile(r'name="form_key" value="([0-9a-f-]{36})"')
TOKEN = re.compile(r'value="http://[^"]+/checkin/([^"/]+)/"')
SUGGESTION_TITLES = re.compile(r"<h4>(.*?)</h4>")
CHECKIN_FORM = bundled_registry().get("alliance-client")
FOLLOWUP_FORM = bundled_registry().get("alliance-followup")

# The client's follow-up answers: everything fine but support from others (0 and 1 of 4).
LOW_SUPPORT = {
    "heard": 4, "speak_up": 4, "keep_going": 4, "hope": 3, "people": 0, "backing": 1,
    "event": 0, "strain": 0, "values": 4, "whole_self": 4,
}  # fmt: skip


def ids(found: list[Any]) -> list[str]:
    return [suggestion.id for suggestion in found]


def text(response: Any) -> str:
    return str(response.content.decode())


def titles(response: Any) -> list[str]:
    return SUGGESTION_TITLES.findall(text(response))


def page(web: WebClient, user: User, client: Client) -> Any:
    web.force_login(user)
    return web.get(reverse("client-detail", args=[client.pk]))


def send(web: WebClient, user: User, client: Client) -> Any:
    web.force_login(user)
    return web.post(reverse("followup-send", args=[client.pk]))


def token_of(response: Any) -> str:
    found = TOKEN.search(text(response))
    assert found, "the page shows the follow-up address once"
    return found.group(1)


def form_key(response: Any) -> str:
    found = FORM_KEY.search(text(response))
    assert found, "the form carries its idempotency key"
    return found.group(1)


def answer(web: WebClient, token: str, answers: Mapping[str, int]) -> Any:
    """The client (no account) opens the link and sends the follow-up."""
    opened = web.get(reverse("checkin", args=[token]))
    data = {f"alliance-followup:{item}": str(value) for item, value in answers.items()}
    return web.post(reverse("checkin", args=[token]), {"stage": "followup", "form_key": form_key(opened), **data})


@pytest.fixture
def strained(cast: dict[str, User], make_client: MakeClient) -> Client:
    """ana's client whose latest relationship check-in is below the cut-off, mostly in the goals."""
    client: Client = make_client(
        cast["ana"], code="C-GOAL", sessions=[{"phq9": phq9(1), "alliance-client": alliance(7, goals=2)}]
    )
    return client


@pytest.fixture
def doing_well(cast: dict[str, User], make_client: MakeClient) -> Client:
    client: Client = make_client(
        cast["ana"],
        code="C-WELL",
        sessions=[{"phq9": phq9(2), "alliance-client": alliance(9)}, {"phq9": phq9(1), "alliance-client": alliance(9)}],
    )
    return client


# --- the suggestions file ------------------------------------------------------------------------------------------


def test_the_suggestions_file_is_valid_with_8_to_14_suggestions_each_citing_its_sources() -> None:
    suggestions = bundled_suggestions()
    assert 8 <= len(suggestions) <= 14
    assert len({s.id for s in suggestions}) == len(suggestions)
    for suggestion in suggestions:
        assert suggestion.references, suggestion.id
        for reference in suggestion.references:
            assert re.search(r"\((19|20)\d\d\)", reference.citation), reference.key
        assert suggestion.domains | suggestion.statuses | suggestion.followup
        assert 2 <= suggestion.text.count(". ") + suggestion.text.count("? ") + 1 <= 5, suggestion.id


def test_the_suggestions_cover_every_domain_status_and_follow_up_need() -> None:
    suggestions = bundled_suggestions()
    assert set(DOMAINS) <= {d for s in suggestions for d in s.domains}
    assert set(STATUSES) <= {x for s in suggestions for x in s.statuses}
    assert set(NEEDS) <= {n for s in suggestions for n in s.followup}


def test_the_core_works_are_cited() -> None:
    citations = " ".join(r.citation for s in bundled_suggestions() for r in s.references)
    for work in (
        "Safran JD, Muran JC (2000). Negotiating the therapeutic alliance",
        "Eubanks CF, Muran JC, Safran JD (2018). Alliance rupture repair: a meta-analysis. Psychotherapy 55(4):508-519",
        "Whipple JL, Lambert MJ",
        "Journal of Counseling Psychology 50(1):59-68",
        "Hook JN, Davis DE, Owen J",
        "Bordin ES (1979)",
        "Harmon SC, Lambert MJ",
    ):
        assert work in citations


SMALLEST = """
suggestions:
  - id: talk
    title: Talk about it
    text: Say what you noticed. Ask about it.
    when: {domains: [bond]}
    references: [sm]
references:
  sm: Safran JD, Muran JC (2000). Negotiating the therapeutic alliance. Guilford.
"""


def test_the_smallest_valid_file_loads() -> None:
    [talk] = load_suggestions(SMALLEST, source="test.yaml")
    assert (talk.id, talk.domains, talk.statuses, talk.followup) == ("talk", {"bond"}, frozenset(), frozenset())
    assert talk.references[0].citation.startswith("Safran JD, Muran JC (2000)")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("domains: [bond]", "domains: [bnd]"), "suggestions[0] (talk).when.domains[0]: unknown domain 'bnd'"),
        (("domains: [bond]", "statuses: [red]"), "suggestions[0] (talk).when.statuses[0]: unknown status 'red'"),
        (("domains: [bond]", "followup: [sad]"), "suggestions[0] (talk).when.followup[0]: unknown need 'sad'"),
        (("domains: [bond]", "domains: []"), "suggestions[0] (talk).when: names no domain, status or follow-up"),
        (("when: {domains: [bond]}", "when: {}"), "suggestions[0] (talk).when: missing"),
        (("references: [sm]", "references: []"), "suggestions[0] (talk).references: every suggestion needs"),
        (("references: [sm]", "references: [smx]"), "suggestions[0] (talk).references[0]: unknown reference 'smx'"),
        (("Ask about it.", "Ask about it. Then more. And more. And more."), "suggestions[0] (talk).text: should be"),
        (("title: Talk about it", "title: ''"), "suggestions[0] (talk).title: missing or empty"),
        (("id: talk", "id: Talk_2"), "suggestions[0] (Talk_2).id: 'Talk_2' is not lower-case words"),
        (("    title:", "    colour: red\n    title:"), "suggestions[0] (talk).colour: unknown field"),
        (("Negotiating the therapeutic alliance. Guilford.", ""), "references.sm: must be a full citation"),
    ],
)
def test_a_bad_suggestions_file_names_the_entry_and_the_field(change: tuple[str, str], message: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        load_suggestions(SMALLEST.replace(*change), source="test.yaml")
    assert str(caught.value).startswith(f"test.yaml: {message}")


def test_a_repeated_id_and_broken_yaml_are_refused() -> None:
    entry = SMALLEST.split("references:\n  sm")[0].split("suggestions:\n")[1]
    twice = SMALLEST.replace(entry, entry + entry)
    with pytest.raises(DefinitionError, match=r"suggestions\[1\] \(talk\)\.id: id 'talk' appears twice"):
        load_suggestions(twice, source="test.yaml")
    with pytest.raises(DefinitionError, match=r"test\.yaml: not valid YAML"):
        load_suggestions("suggestions: [", source="test.yaml")


# --- ranking ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("domains", "first"),
    [
        ({"goals"}, "revisit-goals"),
        ({"tasks"}, "adjust-the-tasks"),
        ({"cultural-respect"}, "explore-culture-with-humility"),
        ({"bond", "safety"}, "slow-down-and-validate"),
        ({"respect"}, "invite-negative-feedback"),
        (set(), "talk-about-the-relationship"),
    ],
)
def test_a_rupture_gets_the_suggestion_aimed_at_its_domain_first(domains: set[str], first: str) -> None:
    assert ids(suggest(domains, {"rupture"}))[0] == first


def test_a_rupture_without_a_known_domain_starts_with_talking_about_the_relationship() -> None:
    assert ids(suggest(set(), {"rupture"}))[:3] == [
        "talk-about-the-relationship",
        "own-your-part",
        "slow-down-and-validate",
    ]


def test_not_on_track_starts_with_looking_at_the_progress_together() -> None:
    ranked = ids(suggest(set(), {"not-on-track"}))
    assert ranked[:2] == ["review-progress-together", "reconsider-the-plan"]
    assert "talk-about-the-relationship" not in ranked


def test_nothing_applies_to_a_client_with_no_status_no_domain_and_no_follow_up() -> None:
    assert suggest(set(), set()) == []


def test_the_client_follow_up_answers_come_first_most_pressing_need_first() -> None:
    assert ids(suggest(set(), {"not-on-track"}, LOW_SUPPORT))[0] == "mobilise-support"
    both = {**LOW_SUPPORT, "keep_going": 1, "hope": 2, "people": 1, "backing": 1}  # support 1.0, motivation 1.5
    assert ids(suggest(set(), {"not-on-track"}, both))[:2] == ["mobilise-support", "review-motivation"]
    # A follow-up need re-ranks even a rupture in one domain.
    assert ids(suggest({"goals"}, {"rupture"}, LOW_SUPPORT))[:2] == ["mobilise-support", "revisit-goals"]


@pytest.mark.parametrize(
    ("changes", "needs"),
    [
        ({}, ("low-support",)),
        ({"people": 3, "backing": 2}, ()),  # mean 2.5: not below the concern line
        ({"people": None, "backing": 2}, ("low-support",)),  # the answered item alone
        ({"event": 1}, ("low-support", "life-event")),  # an event, nothing on strain: a middling concern (2.0)
        ({"strain": 4}, ("life-event", "low-support")),  # no room at all (0) comes before support (0.5)
        (
            {"heard": 1, "speak_up": 2, "values": 2, "whole_self": 2},
            ("low-support", "relationship-strain", "poor-cultural-fit"),
        ),
    ],
)
def test_follow_up_needs_are_domains_below_halfway(changes: dict[str, int | None], needs: tuple[str, ...]) -> None:
    assert followup_needs({**LOW_SUPPORT, **changes}) == needs


def test_no_follow_up_means_no_needs() -> None:
    assert followup_needs(None) == () and followup_needs({}) == ()


def test_the_need_items_are_the_follow_ups_own_items_of_the_matching_domain() -> None:
    domain_of = {item.id: item.domain for item in FOLLOWUP_FORM.items}
    expected = {
        "relationship-strain": "relationship",
        "low-motivation": "motivation",
        "low-support": "support",
        "poor-cultural-fit": "culture",
    }
    for need, items in NEED_ITEMS.items():
        assert {domain_of[item] for item in items} == {expected[need]}
    assert domain_of["event"] == domain_of["strain"] == "life-events"


def test_strained_domains_are_low_items_or_items_that_fell_against_the_clients_own_level() -> None:
    assert strained_domains(CHECKIN_FORM, alliance(8, goals=5)) == {"goals"}
    assert strained_domains(CHECKIN_FORM, alliance(8, understood=6, safety=3)) == {"bond", "safety"}
    assert strained_domains(CHECKIN_FORM, alliance(8, overall=0)) == frozenset()  # "overall" targets no domain
    earlier = [alliance(10), alliance(10, tasks=9)]
    assert strained_domains(CHECKIN_FORM, alliance(9, tasks=7, culture=8), earlier) == {"tasks", "cultural-respect"}


# --- when the panel shows --------------------------------------------------------------------------------------


def test_no_panel_for_a_client_doing_well(client: WebClient, cast: dict[str, User], doing_well: Client) -> None:
    response = page(client, cast["ana"], doing_well)
    assert response.status_code == 200 and PANEL not in text(response)


def test_a_relationship_check_in_below_the_cut_off_opens_the_panel_with_the_goals_first(
    client: WebClient, cast: dict[str, User], strained: Client
) -> None:
    response = page(client, cast["ana"], strained)
    body = text(response)
    assert PANEL in body and "Alliance below cut-off" in body
    assert "the latest relationship check-in): <strong>agreement on goals</strong>" in body
    assert titles(response)[0] == "Revisit and re-agree the goals"
    assert "Tryon GS, Birch SE, Verkuilen J (2018)" in body and "Bordin ES (1979)" in body
    assert "Send a follow-up questionnaire" in body and "Not sent yet" in body


def test_reliable_deterioration_opens_the_panel_as_not_on_track(
    client: WebClient, cast: dict[str, User], make_client: MakeClient
) -> None:
    worse = make_client(
        cast["ana"],
        code="C-WORSE",
        sessions=[{"phq9": phq9(1), "alliance-client": alliance(9)}, {"phq9": phq9(2), "alliance-client": alliance(9)}],
    )  # PHQ-9 8 -> 16: up by 8, reliable deterioration
    response = page(client, cast["ana"], worse)
    assert "Reliable deterioration" in text(response)
    assert titles(response)[0] == "Look at the progress with the client"


@pytest.mark.parametrize(
    ("kind", "shows"),
    [("rupture", True), ("not_on_track", True), ("low_alliance", True), ("deterioration", True), ("risk", False)],
)
def test_an_open_alert_of_a_support_kind_opens_the_panel(
    client: WebClient, cast: dict[str, User], doing_well: Client, kind: str, shows: bool
) -> None:
    alert = Alert.objects.create(client=doing_well, kind=kind, message="test alert", dedup_key=f"test:{kind}")
    assert (PANEL in text(page(client, cast["ana"], doing_well))) is shows
    alert.state = Alert.State.RESOLVED
    alert.save()
    assert PANEL not in text(page(client, cast["ana"], doing_well))


def test_supervisor_and_admin_see_the_panel_but_no_send_button(
    client: WebClient, cast: dict[str, User], strained: Client
) -> None:
    for name in ("cleo", "dara"):
        body = text(page(client, cast[name], strained))
        assert PANEL in body and "Revisit and re-agree the goals" in body
        assert "Send a follow-up questionnaire" not in body
        assert "Only the treating therapist, Ana, can send the follow-up." in body


# --- sending the follow-up -------------------------------------------------------------------------------------


def test_the_therapist_sends_a_one_time_follow_up_link_shown_as_address_and_qr(
    client: WebClient, cast: dict[str, User], strained: Client
) -> None:
    response = send(client, cast["ana"], strained)
    assert response.status_code == 200
    body = text(response)
    assert "Follow-up questionnaire for C-GOAL" in body and '<svg xmlns="http://www.w3.org/2000/svg"' in body
    token = token_of(response)
    link = CheckinLink.objects.get()
    assert (link.purpose, link.stage, link.appointment_id, link.client_id) == (
        "followup",
        "followup",
        None,
        strained.pk,
    )
    assert token not in " ".join(str(value) for value in CheckinLink.objects.values().get().values())
    assert dt.timedelta(hours=71) < link.expires_at - timezone.now() <= dt.timedelta(hours=72)
    event = AuditEvent.objects.get(action="create", object_type="CheckinLink")
    assert (event.user, event.client_id, event.path) == (
        cast["ana"],
        strained.pk,
        reverse("followup-send", args=[strained.pk]),
    )
    pending = text(page(client, cast["ana"], strained))
    assert "is not answered yet" in pending and "Send a new follow-up questionnaire" in pending


def test_only_the_treating_therapist_may_send_and_others_learn_nothing(
    client: WebClient, cast: dict[str, User], strained: Client
) -> None:
    assert send(client, cast["ben"], strained).status_code == 404
    assert send(client, cast["eve"], strained).status_code == 404
    refused = send(client, cast["cleo"], strained)
    assert refused.status_code == 403 and "Only the client's therapist sends the follow-up" in text(refused)
    assert send(client, cast["dara"], strained).status_code == 403
    client.logout()
    anonymous = client.post(reverse("followup-send", args=[strained.pk]))
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    assert not CheckinLink.objects.exists()
    assert client.get(reverse("followup-send", args=[strained.pk])).status_code in (302, 405)


def test_a_new_follow_up_replaces_the_unused_one_and_leaves_session_links_alone(
    client: WebClient, cast: dict[str, User], strained: Client
) -> None:
    appointment = Appointment.objects.get(client=strained)
    session = links.issue_link(appointment, by=cast["ana"])
    first = token_of(send(client, cast["ana"], strained))
    second = token_of(send(client, cast["ana"], strained))
    assert client.get(reverse("checkin", args=[first])).status_code == 410
    assert client.get(reverse("checkin", args=[second])).status_code == 200
    assert not CheckinLink.objects.get(pk=session.link.pk).is_superseded
    links.issue_link(appointment, by=cast["ana"])  # a new session link does not stop the follow-up either
    assert client.get(reverse("checkin", args=[second])).status_code == 200


def test_no_follow_up_for_a_client_without_an_open_episode(
    client: WebClient, cast: dict[str, User], strained: Client
) -> None:
    strained.episodes.update(closed_on=timezone.now().date())
    response = send(client, cast["ana"], strained)
    assert response.status_code == 409 and "no open treatment episode" in text(response)
    assert not CheckinLink.objects.exists()


# --- the client answers ----------------------------------------------------------------------------------------


def test_the_client_answers_in_english_and_exactly_one_check_in_is_stored(
    client: WebClient, cast: dict[str, User], strained: Client
) -> None:
    token = token_of(send(client, cast["ana"], strained))
    client.logout()  # the client has no account
    opened = client.get(reverse("checkin", args=[token]))
    body = text(opened)
    assert opened.status_code == 200 and '<html lang="en">' in body and 'class="client"' in body
    assert "A few questions from your therapist" in body and "I feel heard in my sessions." in body
    assert "C-GOAL" not in body  # nothing of the record
    assert '<label for="q-alliance-followup-heard-0">' in body and "<script" not in body
    data = {"stage": "followup", "form_key": form_key(opened)}
    data |= {f"alliance-followup:{item}": str(value) for item, value in LOW_SUPPORT.items()}
    thanks = client.post(reverse("checkin", args=[token]), data)
    assert thanks.status_code == 200 and "Your answers have been sent" in text(thanks)
    again = client.post(reverse("checkin", args=[token]), data)  # a double tap: thanked again, nothing new
    assert again.status_code == 200 and "Your answers have been sent" in text(again)
    stored = CheckIn.objects.get(instrument="alliance-followup")
    assert (stored.client_id, stored.source, stored.respondent, stored.language) == (
        strained.pk,
        "link",
        "client",
        "en",
    )
    assert stored.appointment_id is None and stored.answers["people"] == 0
    assert stored.subscales == {"relationship": 4.0, "motivation": 3.5, "support": 0.5, "culture": 4.0}
    assert CheckinLink.objects.get().stage == "done"
    event = AuditEvent.objects.get(action="create", object_type="CheckIn", object_id=str(stored.pk))
    assert event.actor == "client-link" and event.user is None


def test_the_client_answers_in_spanish(client: WebClient, cast: dict[str, User], make_client: MakeClient) -> None:
    lucia = make_client(cast["ana"], code="C-ES", language="es", sessions=[{"alliance-client": alliance(6)}])
    token = token_of(send(client, cast["ana"], lucia))
    client.logout()
    opened = client.get(reverse("checkin", args=[token]))
    body = text(opened)
    assert '<html lang="es">' in body and "Unas preguntas de su terapeuta" in body
    assert "Siento que me escuchan en mis sesiones." in body and "Bastante cierto" in body
    assert answer(client, token, LOW_SUPPORT).status_code == 200
    assert CheckIn.objects.get(instrument="alliance-followup").language == "es"


def test_the_client_may_switch_the_follow_up_to_spanish(
    client: WebClient, cast: dict[str, User], strained: Client
) -> None:
    token = token_of(send(client, cast["ana"], strained))
    client.logout()
    switched = client.post(reverse("checkin", args=[token]), {"action": "language", "language": "es", "page": ""})
    assert switched.status_code == 302 and switched["Location"] == reverse("checkin", args=[token])
    assert "Cuestionario de seguimiento" in text(client.get(reverse("checkin", args=[token])))


def test_an_expired_follow_up_link_is_gone(client: WebClient, cast: dict[str, User], strained: Client) -> None:
    token = token_of(send(client, cast["ana"], strained))
    CheckinLink.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert client.get(reverse("checkin", args=[token])).status_code == 410
    assert not CheckIn.objects.filter(instrument="alliance-followup").exists()


def test_after_the_answers_the_panel_shows_them_by_domain_and_re_ranks_the_suggestions(
    client: WebClient, cast: dict[str, User], strained: Client
) -> None:
    before = titles(page(client, cast["ana"], strained))
    assert before[0] == "Revisit and re-agree the goals" and "Mobilise support from others" not in before
    token = token_of(send(client, cast["ana"], strained))
    answer(WebClient(), token, LOW_SUPPORT)
    response = page(client, cast["ana"], strained)
    body = text(response)
    assert "The answers point to: <strong>little support from other people</strong>" in body
    assert "Support from other people" in body and "There are people in my life" in body
    assert "0 — Not at all true" in body and '<span class="badge warn">concern</span>' in body
    after = titles(response)
    assert after[:2] == ["Mobilise support from others", "Revisit and re-agree the goals"]
    assert "Why here: little support from other people." in body
    assert "is not answered yet" not in body and "Send a new follow-up questionnaire" in body


def test_the_follow_up_does_not_count_as_a_session_check_in(
    client: WebClient, cast: dict[str, User], strained: Client
) -> None:
    token = token_of(send(client, cast["ana"], strained))
    answer(WebClient(), token, LOW_SUPPORT)
    followup = CheckIn.objects.get(instrument="alliance-followup")
    assert followup.appointment is None and followup.episode == strained.episodes.get()
    assert not Alert.objects.filter(checkin=followup).exists()


def test_the_documentation_lists_every_suggestion_reference_and_follow_up_item() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "support-tool.md").read_text(encoding="utf-8")
    for suggestion in bundled_suggestions():
        assert f"`{suggestion.id}`" in doc and suggestion.text in doc
        for reference in suggestion.references:
            assert reference.citation in doc
    for item in FOLLOWUP_FORM.items:
        assert item.text["en"] in doc and item.text["es"] in doc
    assert "not yet validated" in doc
