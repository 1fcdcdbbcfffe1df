"""`feedsvc ping` against a tiny WebSub hub on 127.0.0.1: one publish
notification per changed feed, nothing when nothing changed, and failures
retried on the next run."""

from __future__ import annotations

import http.server
import json
import threading
import urllib.parse
from pathlib import Path
from typing import Iterator

import pytest
from click.testing import CliRunner

from feedsvc.cli import main
from sitebuild import card, write_page

from conftest import NOW_EPOCH


class Hub(http.server.ThreadingHTTPServer):
    """Records every POST; answers with `status`."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), HubHandler)
        self.received: list[dict[str, list[str]]] = []
        self.content_types: list[str] = []
        self.status = 204

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hub"

    def published(self) -> list[str]:
        assert all(form["hub.mode"] == ["publish"] for form in self.received)
        return sorted(url for form in self.received for url in form["hub.url"])


class HubHandler(http.server.BaseHTTPRequestHandler):
    server: Hub

    def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
        length = int(self.headers.get("Content-Length", "0"))
        self.server.received.append(urllib.parse.parse_qs(self.rfile.read(length).decode("ascii")))
        self.server.content_types.append(self.headers.get("Content-Type", ""))
        self.send_response(self.server.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hub() -> Iterator[Hub]:
    server = Hub()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(NOW_EPOCH))
    for name in ("FEEDSVC_WEBSUB_HUB", "FEEDSVC_LEDGER", "FEEDSVC_SEEDS"):
        monkeypatch.delenv(name, raising=False)


def ping(seeds: Path, *extra: str):
    return CliRunner().invoke(main, ["ping", "--seeds", str(seeds), *extra])


def subscription_feeds(base: str, slugs: list[str]) -> list[str]:
    feeds = [f"{base}feeds/all.{fmt}" for fmt in ("atom", "rss", "json")]
    feeds += [f"{base}feeds/category/{slug}.{fmt}" for slug in slugs for fmt in ("atom", "rss", "json")]
    return sorted(feeds)


def test_first_ping_announces_every_subscription_feed(seeds, hub):
    result = ping(seeds, "--hub", hub.url)
    assert result.exit_code == 0, result.output
    assert hub.published() == subscription_feeds("http://127.0.0.1:8000/", ["customs", "logistics"])
    assert set(hub.content_types) == {"application/x-www-form-urlencoded"}
    state = json.loads((seeds / "websub.json").read_text())
    assert state["hub"] == hub.url and len(state["feeds"]) == len(hub.published())


def test_a_second_ping_with_nothing_changed_announces_nothing(seeds, hub):
    assert ping(seeds, "--hub", hub.url).exit_code == 0
    hub.received.clear()
    result = ping(seeds, "--hub", hub.url)
    assert result.exit_code == 0
    assert hub.received == []


def test_only_the_feeds_a_new_page_changed_are_announced(seeds, hub):
    assert ping(seeds, "--hub", hub.url).exit_code == 0
    hub.received.clear()
    write_page(seeds, "000_new.txt", [card("Customs Border Queue Shrinks", "The border queue is shorter.", category="Customs")])
    assert ping(seeds, "--hub", hub.url).exit_code == 0
    # The whole-site feeds and the Customs feeds; Logistics did not change.
    assert hub.published() == subscription_feeds("http://127.0.0.1:8000/", ["customs"])


def test_the_hub_comes_from_the_settings(seeds, hub, monkeypatch):
    monkeypatch.setenv("FEEDSVC_WEBSUB_HUB", hub.url)
    assert ping(seeds).exit_code == 0
    assert hub.published()


def test_a_refusing_hub_fails_the_run_and_is_asked_again_next_time(seeds, hub):
    hub.status = 500
    result = ping(seeds, "--hub", hub.url)
    assert result.exit_code == 1
    assert "the hub answered 500" in result.output
    announced = len(hub.published())
    hub.status = 202
    hub.received.clear()
    assert ping(seeds, "--hub", hub.url).exit_code == 0
    assert len(hub.published()) == announced


def test_an_unreachable_hub_is_reported(seeds, hub):
    url = hub.url
    hub.shutdown()
    hub.server_close()
    result = ping(seeds, "--hub", url)
    assert result.exit_code == 1
    assert "cannot reach the hub" in result.output


def test_a_new_hub_hears_about_every_feed(seeds, hub):
    assert ping(seeds, "--hub", hub.url).exit_code == 0
    hub.received.clear()
    other = hub.url.replace("/hub", "/other-hub")
    assert ping(seeds, "--hub", other).exit_code == 0
    assert len(hub.published()) == 9


@pytest.mark.parametrize("bad", ["file:///etc/passwd", "ftp://hub.example/", "hub.example", "http://"])
def test_only_http_hubs_are_accepted(seeds, bad):
    result = ping(seeds, "--hub", bad)
    assert result.exit_code == 2
    assert "http" in result.output


def test_no_hub_is_a_usage_error(seeds):
    result = ping(seeds)
    assert result.exit_code == 2
    assert "--hub" in result.output


def test_the_state_file_sits_beside_a_ledger_placed_elsewhere(seeds, hub, tmp_path):
    ledger = tmp_path / "state" / "ledger.jsonl"
    assert ping(seeds, "--ledger", str(ledger), "--hub", hub.url).exit_code == 0
    assert (ledger.parent / "websub.json").exists()
    assert not (seeds / "websub.json").exists()
