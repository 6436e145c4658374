"""What a delivery round reads of its posts in bulk (gateway.outbound.stored_posts)."""

from __future__ import annotations

import datetime as dt

from gateway.app import App
from gateway.community.communities import create_community
from gateway.community.members import add_members
from gateway.ingest.batch import ingest_now
from gateway.ingest.context import InboundMail
from gateway.outbound.stored_posts import read_communities
from gateway.outbound.stored_posts import read_posts
from gateway.store.db import transaction
from gateway.store.models import Message
from gateway.store.models import Policy
from gateway.store.models import Visibility

ATTACHED = (
    b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
    b"--b\r\nContent-Type: text/plain\r\n\r\nSee the plan.\r\n"
    b"--b\r\nContent-Type: application/pdf\r\n"
    b'Content-Disposition: attachment; filename="plan v2.pdf"\r\n'
    b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n"
)


def test_posts_are_read_with_their_communities_and_attachment_names(app: App) -> None:
    domain = app.settings.gateway.domain
    with transaction(app.sessions) as session:
        design = create_community(session, "design", "Design", policy=Policy.OPEN)
        board = create_community(
            session, "board", "Board", policy=Policy.OPEN, visibility=Visibility.PRIVATE
        )
        add_members(session, design, ["ann@example.com"])
    raw = (
        b"From: Zoe <zoe@example.com>\r\nSubject: Plan\r\nMessage-ID: <plan@x>\r\n"
        b"MIME-Version: 1.0\r\n" + ATTACHED
    )
    at = dt.datetime(2026, 12, 6, 9, 0, tzinfo=dt.UTC)
    to = (f"design@{domain}", f"board@{domain}")
    ingest_now(app, [InboundMail(raw, "zoe@example.com", to, at)])

    with transaction(app.read_sessions) as session:
        [stored_id] = session.query(Message.id).all()[0]
        posts = read_posts(session, [stored_id, stored_id + 1])
        communities = read_communities(session)

    assert list(posts) == [stored_id]  # a post no longer stored is not there
    post = posts[stored_id]
    assert (post.message_id, post.subject, post.sender_name) == ("plan@x", "Plan", "Zoe")
    assert sorted(post.community_ids) == sorted([design.id, board.id])
    assert list(post.attachment_names.values()) == ["plan v2.pdf"]
    assert communities[board.id].public is False and communities[design.id].public is True
    assert [c.slug for c in communities.values()] == ["design", "board"]  # by id
