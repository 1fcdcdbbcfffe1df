"""Every error feedsvc raises on purpose, each with a message that says what to do."""


class FeedsvcError(Exception):
    """A problem the user can fix; the CLI prints it on one line and exits 1."""


class ConfigError(FeedsvcError):
    """The configuration file or an environment variable is invalid."""


class SeedsError(FeedsvcError):
    """The seeds folder is missing or unreadable."""


class LedgerError(FeedsvcError):
    """The ledger cannot be read; it is never overwritten in that state."""


class PublishRefused(FeedsvcError):
    """The publish guard stopped a build that looks like a broken scrape."""


class UnknownArticle(FeedsvcError):
    """An operator command named an id the ledger does not hold."""
