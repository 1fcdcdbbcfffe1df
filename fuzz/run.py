"""Long fuzz runs of the page pipeline, outside CI: hypothesis with a large
example budget (the default), or atheris, coverage-guided, when installed.

Each input is one to three page files. It goes through the real `ingest`
(in a scratch seeds folder, on /dev/shm when there is one), and with
`--target site` through every renderer too. The checks are the hardening
suite's: ingest never raises; no article text holds a character XML
forbids or a control character; the ledger reads back as written; every
published document is well-formed, passes feedsvc check's per-document
checks, and its HTML carries page text only as text.

    python fuzz/run.py --examples 20000                 # hypothesis
    python fuzz/run.py --engine atheris --seconds 600   # atheris
    python fuzz/run.py --target ingest --seconds 300

Prints how many inputs it tried. A failing input is saved under
fuzz/findings/ (or --findings) and the exit status is 1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

# The pipeline's modules, imported by load_pipeline() once the engine is
# known: atheris must instrument them as they are imported.
etree = check = ledger_file = load_config = ingest = Problem = Site = None
assert_article_page = assert_clean_article = assert_clean_text = assert_document = None


def load_pipeline() -> None:
    global etree, check, ledger_file, load_config, ingest, Problem, Site
    global assert_article_page, assert_clean_article, assert_clean_text, assert_document
    from lxml import etree

    from feedsvc.publish import check
    from feedsvc.store import ledger as ledger_file
    from feedsvc.config import load_config
    from feedsvc.store.ingest import ingest
    from feedsvc.core.models import Problem
    from feedsvc.site.model import Site
    from hardening.checks import assert_article_page, assert_clean_article, assert_clean_text, assert_document


NOW = dt.datetime(2025, 10, 9, 8, 53, 20, tzinfo=dt.timezone.utc)
ZONES = ("UTC", "Pacific/Kiritimati", "Etc/GMT+12")


class Harness:
    """Runs one input through the pipeline in a reused scratch folder."""

    def __init__(self, target: str, findings: Path) -> None:
        self.target = target
        self.findings = findings
        shm = Path("/dev/shm")
        self.folder = Path(tempfile.mkdtemp(prefix="feedsvc-fuzz-", dir=shm if shm.is_dir() else None))
        self.seeds = self.folder / "seeds"
        self.tried = 0
        self.failures = 0

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def run(self, pages: list[bytes], zone: str = "UTC") -> None:
        """Raise AssertionError (or whatever ingest raised) on a finding."""
        self.tried += 1
        shutil.rmtree(self.seeds, ignore_errors=True)
        self.seeds.mkdir()
        shutil.copyfile(REPO / "seeds" / "feedsvc.toml", self.seeds / "feedsvc.toml")
        for number, data in enumerate(pages):
            (self.seeds / f"{number:03d}_page.txt").write_bytes(data)
        config = load_config(self.seeds, environ={}, timezone=zone, feed_size=3, archive_size=2)
        result = ingest(config, NOW)
        for article in result.articles(config.site_key):
            assert_clean_article(article, config.max_title_chars)
        for name in result.ledger.categories:
            assert_clean_text(name, "category name")
        assert ledger_file.load(config.ledger_path)[0] == result.ledger
        if self.target == "site":
            self.check_site(Site.from_ingest(config, result))

    def check_site(self, site: Site) -> None:
        for target in site.targets():
            body = site.render(target.path).body
            assert_document(target.path, body)
            problems: list[Problem] = []
            if target.path.endswith(".json"):
                check.check_json_feed(target.file, body, problems)
            elif target.path.endswith((".atom", ".rss", ".opml")):
                parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
                tree = etree.fromstring(body, parser).getroottree()
                kind = {".atom": check.check_atom, ".rss": check.check_rss, ".opml": check.check_opml}
                kind[target.path[target.path.rindex(".") :]](target.file, tree, problems)
            assert problems == [], [str(p) for p in problems[:3]]
        for article in site.articles:
            assert_article_page(site.render(f"/articles/{article.id}/").body, article)

    def save(self, pages: list[bytes], error: BaseException) -> Path:
        """Keep a failing input as page files beside the traceback."""
        self.failures += 1
        digest = hashlib.sha256(b"\0".join(pages)).hexdigest()[:12]
        folder = self.findings / digest
        folder.mkdir(parents=True, exist_ok=True)
        for number, data in enumerate(pages):
            (folder / f"{number:03d}_page.txt").write_bytes(data)
        (folder / "error.txt").write_text("".join(traceback.format_exception(error)))
        return folder


def run_hypothesis(harness: Harness, examples: int, seconds: float) -> None:
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st

    from hardening.strategies import raw_pages

    deadline = time.monotonic() + seconds

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(pages=st.lists(raw_pages(), min_size=1, max_size=3), zone=st.sampled_from(ZONES))
    def fuzz(pages: list[bytes], zone: str) -> None:
        if time.monotonic() > deadline:
            return
        harness.run(pages, zone)

    try:
        fuzz()
    except Exception as error:  # noqa: BLE001 - hypothesis re-raises the shrunk finding
        pages = getattr(error, "__notes__", None)
        print(f"finding: {error!r}\n{''.join(pages or [])}", file=sys.stderr)
        harness.failures += 1


def run_atheris(harness: Harness, runs: int, seconds: float, started: float, report) -> None:
    import atheris

    deadline = started + seconds

    def one_input(data: bytes) -> None:
        if time.monotonic() > deadline or (runs and harness.tried >= runs):
            # libFuzzer exits without running Python's exit handlers.
            report()
            harness.close()
            os._exit(1 if harness.failures else 0)
        provider = atheris.FuzzedDataProvider(data)
        count = provider.ConsumeIntInRange(1, 3)
        zone = ZONES[provider.ConsumeIntInRange(0, len(ZONES) - 1)]
        pages = [provider.ConsumeBytes(provider.ConsumeIntInRange(0, 4096)) for _ in range(count - 1)]
        pages.append(provider.ConsumeBytes(provider.remaining_bytes()))
        try:
            harness.run(pages, zone)
        except Exception as error:
            print(f"finding saved in {harness.save(pages, error)}", file=sys.stderr)
            raise

    corpus = harness.folder / "corpus"
    corpus.mkdir()
    for page in sorted((REPO / "seeds").glob("*.txt")) + sorted((REPO / "tests" / "golden_pages").glob("**/*.txt")):
        # A leading count byte and zone byte, then the page itself.
        (corpus / page.name).write_bytes(b"\x00\x00" + page.read_bytes())
    arguments = [sys.argv[0], str(corpus), f"-max_total_time={int(seconds) + 60}", "-max_len=65536", "-rss_limit_mb=4096"]
    atheris.Setup(arguments, one_input)
    atheris.Fuzz()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["hypothesis", "atheris"], default="hypothesis")
    parser.add_argument("--target", choices=["ingest", "site"], default="site")
    parser.add_argument("--examples", type=int, default=20_000, help="hypothesis: inputs to try (atheris: runs, 0 = until --seconds)")
    parser.add_argument("--seconds", type=float, default=3600, help="stop after this long at the latest")
    parser.add_argument("--findings", type=Path, default=REPO / "fuzz" / "findings")
    options = parser.parse_args()
    if options.engine == "atheris":
        # atheris parses sys.argv itself; keep only the program name.
        sys.argv = sys.argv[:1]
    if options.engine == "atheris":
        import atheris

        with atheris.instrument_imports(include=["feedsvc"]):
            load_pipeline()
    else:
        load_pipeline()
    harness = Harness(options.target, options.findings)
    started = time.monotonic()
    finish = lambda: report(harness, options, started)  # noqa: E731
    if options.engine == "atheris":
        runs = 0 if options.examples == parser.get_default("examples") else options.examples
        run_atheris(harness, runs, options.seconds, started, finish)
    try:
        run_hypothesis(harness, options.examples, options.seconds)
    finally:
        finish()
        harness.close()
    return 1 if harness.failures else 0


def report(harness: Harness, options, started: float) -> None:
    elapsed = time.monotonic() - started
    print(
        f"fuzz: engine={options.engine} target={options.target} inputs={harness.tried} "
        f"seconds={elapsed:.0f} rate={harness.tried / max(elapsed, 1e-9):.0f}/s findings={harness.failures}",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
