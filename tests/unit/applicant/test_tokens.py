"""Status-page tokens: derived per address and revocation counter under the secret, found by their hash."""

from __future__ import annotations

from sqlalchemy import select

from mailintake.applicant.tokens import address_of, derive, issue, revoke, token_hash
from mailintake.db.models import ApplicantToken
from tests.support.fixtures.env import Env

SECRET = "unit-test-secret-0123456789abcdef"


def test_token_is_stable_per_address_and_unguessable_without_the_secret() -> None:
    token = derive(SECRET, "WZ@Example.cn ", 0)
    assert token == derive(SECRET, "wz@example.cn", 0) and len(token) == 32
    assert token != derive(SECRET, "wz@example.cn", 1) != derive(SECRET, "wz2@example.cn", 0)
    assert token != derive(SECRET + "x", "wz@example.cn", 0)
    assert token_hash(token) != token and len(token_hash(token)) == 64


def test_issue_revoke_and_a_changed_secret(env: Env) -> None:
    """GIVEN an issued token WHEN revoked THEN the old one is unknown and the next is epoch 1; WHEN the secret
    changes THEN the next issue replaces the stored hash (the old link stops working)."""
    settings = env.settings(web={"secret_key": SECRET})
    with env.session_factory() as session, session.begin():
        first = issue(session, settings, "wz@example.cn")
        assert issue(session, settings, "WZ@example.cn") == first
        assert address_of(session, first) == "wz@example.cn"
        stored = session.scalars(select(ApplicantToken)).one()
        assert (stored.address, stored.epoch, stored.token_hash) == ("wz@example.cn", 0, token_hash(first))
        assert revoke(session, settings, "wz@example.cn") and not revoke(session, settings, "nobody@example.cn")
        assert address_of(session, first) is None
        second = issue(session, settings, "wz@example.cn")
        assert second == derive(SECRET, "wz@example.cn", 1) and address_of(session, second) == "wz@example.cn"
    rotated = env.settings(web={"secret_key": SECRET + "-rotated"})
    with env.session_factory() as session, session.begin():
        third = issue(session, rotated, "wz@example.cn")
        assert third != second and address_of(session, second) is None
        assert address_of(session, third) == "wz@example.cn"
        assert address_of(session, "not a token") is None and address_of(session, "A" * 32) is None
