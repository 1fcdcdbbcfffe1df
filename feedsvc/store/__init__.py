"""Where feedsvc keeps things: the seeds folder and its page files, the
ledger that remembers every article, atomic file writes, and `ingest`, the
one transaction that brings the ledger up to date. May import `core`,
`config` and `errors`; never `site`, `publish` or `serve`."""
