"""Property tests: whatever the pages hold, every document the site
publishes is well-formed, passes the same checks as `feedsvc check`, holds
no XML-forbidden character, and its HTML carries page text only as text."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedsvc.publish import export
from feedsvc.publish.check import check_tree
from feedsvc.config import load_config
from feedsvc.errors import PublishRefused
from feedsvc.store.ingest import ingest
from feedsvc.site.model import Site

from .checks import assert_article_page, assert_document
from .strategies import page_bytes, raw_pages
from .test_fuzz_ingest import NOW, ZONES, write_seeds

FUZZ = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def assert_site_sound(site: Site) -> None:
    """Render every URL the site lists and check each document."""
    for target in site.targets():
        resource = site.render(target.path)
        assert resource is not None, target.path
        assert_document(target.path, resource.body)
    for article in site.articles:
        assert_article_page(site.render(f"/articles/{article.id}/").body, article)


@FUZZ
@given(pages=st.lists(raw_pages(), min_size=1, max_size=3), zone=st.sampled_from(ZONES), small=st.booleans())
def test_every_published_document_is_sound(pages: list[bytes], zone: str, small: bool) -> None:
    # Small feeds and archives put most articles into RFC 5005 archives too.
    sizes = {"feed_size": 2, "archive_size": 2} if small else {}
    with tempfile.TemporaryDirectory() as folder:
        config = load_config(write_seeds(Path(folder), pages), environ={}, timezone=zone, **sizes)
        site = Site.from_ingest(config, ingest(config, NOW))
        assert_site_sound(site)


@FUZZ
@given(pages=st.lists(page_bytes(), min_size=1, max_size=2))
def test_every_built_tree_passes_feedsvc_check(pages: list[bytes]) -> None:
    """The build either publishes a tree `feedsvc check` accepts, or
    refuses with the publish guard's reason; nothing else."""
    with tempfile.TemporaryDirectory() as folder:
        config = load_config(write_seeds(Path(folder), pages), environ={}, feed_size=3, archive_size=2)
        out = Path(folder) / "out"
        try:
            export.build(config, out, NOW)
        except PublishRefused as refused:
            assert "refusing to publish" in str(refused)
            export.build(config, out, NOW, force=True, allow_empty=True)
        report = check_tree(out, config.base_url)
        assert report.problems == [], [str(p) for p in report.problems[:5]]
        for path in sorted(out.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                relative = "/" + path.relative_to(out).as_posix()
                assert_document(relative.removesuffix("index.html"), path.read_bytes())
