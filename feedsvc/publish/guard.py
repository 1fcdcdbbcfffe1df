"""The publish guard: refuse, before anything is saved or published, a run
that looks like a broken scrape (`--force` overrides it) or that would
publish no article at all (`--allow-empty` overrides that)."""

from __future__ import annotations

from pathlib import Path

from feedsvc.errors import PublishRefused
from feedsvc.store.ingest import Ingest, Judge


def refusal(result: Ingest, max_new_articles: int) -> str | None:
    """Why this run looks like a broken scrape, or None.

    A first build (the ledger held no article) has nothing to protect, so
    the bound on new articles applies only once the ledger has articles;
    new pages that yield no card at all are refused either way."""
    if result.new_pages and result.new_page_cards == 0:
        names = ", ".join(result.new_pages[:5]) + (", ..." if len(result.new_pages) > 5 else "")
        return (
            f"the {len(result.new_pages)} new page(s) ({names}) yielded no article card at all, "
            "which is what a site redesign or a broken scrape looks like; fix the pages, "
            "or rerun with --force to publish anyway"
        )
    # Counting the ledger's records costs a pass over the store: only when the bound is passed.
    if len(result.new) > max_new_articles and len(result.ledger.records) > len(result.new):
        return (
            f"this run would add {len(result.new)} new articles, more than max_new_articles = {max_new_articles}, "
            "which is what a scrape that lost its article identities looks like; check the pages, "
            "then rerun with --force, or raise max_new_articles in feedsvc.toml (or FEEDSVC_MAX_NEW_ARTICLES)"
        )
    return None


def emptiness(result: Ingest, seeds: Path) -> str | None:
    """Why a site with no article at all must not be published, or None.
    Articles outlive their pages, so a folder cleared of old pages still
    publishes what its ledger holds."""
    if result.ledger.records.any_published():
        return None
    return (
        f"there is no article to publish: no page in {seeds} holds an article card, and the ledger holds none "
        f"(pages are *.txt, *.html and *.htm files directly in that folder, {result.pages_read} found); "
        "pass --allow-empty to publish an empty site"
    )


def guard(max_new_articles: int, seeds: Path, force: bool = False, allow_empty: bool = False) -> Judge:
    """A judge for `ingest` that raises PublishRefused for a run that looks
    like a broken scrape (unless `force`) or that would publish nothing
    (unless `allow_empty`)."""

    def judge(result: Ingest) -> None:
        reason = (None if force else refusal(result, max_new_articles)) or (None if allow_empty else emptiness(result, seeds))
        if reason:
            raise PublishRefused(f"refusing to publish: {reason}")

    return judge
