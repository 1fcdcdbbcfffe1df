"""The published site: the route table that builds and matches every URL,
the site model built from the ledger's articles, and the renderers for
feeds (Atom, RSS, JSON Feed, OPML) and HTML pages. May import `core`,
`config` and `errors`; never `store`, `publish` or `serve`."""
