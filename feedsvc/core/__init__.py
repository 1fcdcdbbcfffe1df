"""The pure heart of feedsvc: records, text rules, parsing a page into
cards, merging cards into the ledger, operator marks, and which articles go
in which document. Takes values and a `now`, returns values: no files, no
clock, no network. May import only the standard library, its own modules,
third-party text helpers and `feedsvc.errors`."""
