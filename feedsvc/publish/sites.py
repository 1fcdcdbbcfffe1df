"""The static export of several sites (`feedsvc build --sites DIR`): one
folder with one subfolder per site, each written exactly as `export` writes
a single site (the instance's `root_site` into the folder itself), plus the
root's list of sites and OPML, made from the sites just built. A site that
cannot be built leaves its subfolder as the last good build wrote it."""

from __future__ import annotations

import os
from pathlib import Path

from feedsvc.instance import InstanceConfig
from feedsvc.publish.export import Outcome
from feedsvc.publish.tree import Tree
from feedsvc.site import root
from feedsvc.site.cards import Card
from feedsvc.site import routes as urls


def out_folder(out: Path, instance: InstanceConfig, name: str) -> Path:
    """Where site `name` is written: its prefix under `out`."""
    return out / instance.prefix(name).strip("/")


def placed(instance: InstanceConfig, cards: dict[str, dict]) -> list[root.Placed]:
    """The sites' cards (as JSON, from their builds), sorted by name."""
    return [root.Placed(name, instance.prefix(name), Card.from_json(cards[name])) for name in sorted(cards)]


def write_root(out: Path, instance: InstanceConfig, cards: dict[str, dict], apply: bool = True) -> Outcome:
    """Write the list of sites and the OPML of every feed (and their
    stylesheet) from the cards of the sites built, each file replaced
    whole and only when its bytes change. The files the other layout
    would have (with or without a root site) are removed."""
    outcome = Outcome.start(apply)
    documents = root.documents(placed(instance, cards), instance.site_url, instance.root_site)
    with Tree(out, create=apply) as tree:
        for path, resource in sorted(documents.items()):
            file = urls.file_for(path)
            if tree.holds(file, resource.body):
                outcome.unchanged += 1
                continue
            outcome.note(file, "changed" if tree.size(file) is not None else "added")
            if apply:
                tree.write(file, resource.body)
        if instance.root_site is None:
            # Once written aside for a site mounted at the root; that site's
            # own files are its build's to remove.
            for path in (root.ASIDE_INDEX_PATH, root.ASIDE_OPML_PATH):
                file = urls.file_for(path)
                if os.path.isfile(out / file):
                    outcome.removed.append(file)
                    if apply:
                        tree.remove(file)
        if apply:
            tree.sync()
    return outcome
