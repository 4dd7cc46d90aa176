"""One rule decides who sees which client: own, team, practice — and nobody else."""

from __future__ import annotations

import pytest
from clinic_factories import MakeClient, alliance, phq9

from alliance.clinic.accounts.models import User
from alliance.clinic.checkins.models import CheckIn
from alliance.clinic.practice.models import Client


@pytest.fixture
def clients(cast: dict[str, User], make_client: MakeClient) -> dict[str, Client]:
    return {
        "ana's": make_client(cast["ana"], code="A1", sessions=[{"phq9": phq9(2), "alliance-client": alliance(9)}]),
        "ben's": make_client(cast["ben"], code="B1", sessions=[{"phq9": phq9(1)}]),
        "eve's": make_client(cast["eve"], code="E1", sessions=[{"phq9": phq9(1)}]),
    }


@pytest.mark.parametrize(
    ("who", "sees"),
    [
        ("ana", {"ana's"}),
        ("ben", {"ben's"}),
        ("cleo", {"ana's", "ben's"}),
        ("dara", {"ana's", "ben's"}),
        ("eve", {"eve's"}),
    ],
)
def test_each_role_sees_exactly_its_clients(
    cast: dict[str, User], clients: dict[str, Client], who: str, sees: set[str]
) -> None:
    visible = set(Client.objects.visible_to(cast[who]).values_list("code", flat=True))
    assert visible == {clients[name].code for name in sees}
    checkin_clients = set(CheckIn.objects.visible_to(cast[who]).values_list("client__code", flat=True))
    assert checkin_clients == visible


def test_inactive_or_anonymous_users_see_nothing(cast: dict[str, User], clients: dict[str, Client]) -> None:
    from django.contrib.auth.models import AnonymousUser

    assert not Client.objects.visible_to(AnonymousUser()).exists()
    cast["ana"].is_active = False
    assert not Client.objects.visible_to(cast["ana"]).exists()


def test_a_supervisor_of_another_team_sees_nothing(
    cast: dict[str, User], clients: dict[str, Client], practice: object
) -> None:
    other = User.objects.create_user(
        username="fay", password="x" * 12, role="supervisor", practice=cast["ana"].practice
    )
    assert not Client.objects.visible_to(other).exists()
