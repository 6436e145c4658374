"""The communities a batch's mails name by slug (posts, action addresses), asked of the
store once per slug and kept in the batch cache (ctx.cache.communities)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from gateway.ingest.context import IngestContext
from gateway.store.models import Community


def communities_for(ctx: IngestContext, slugs: Sequence[str]) -> list[Community | None]:
    """The community of each slug (None: there is none), the slugs not cached yet asked
    in one query."""
    known = ctx.cache.communities
    missing = sorted({slug for slug in slugs if slug not in known})
    if missing:
        found = {
            community.slug: community
            for community in ctx.session.scalars(
                select(Community).where(Community.slug.in_(missing))
            )
        }
        known.update((slug, found.get(slug)) for slug in missing)
    return [known[slug] for slug in slugs]


def community_for(ctx: IngestContext, slug: str) -> Community | None:
    [community] = communities_for(ctx, [slug])
    return community
