"""feedsvc: publish scraped listing pages as Atom, RSS and JSON feeds."""

__version__ = "0.1.0"
