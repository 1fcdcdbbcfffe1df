"""The one place that reads the clock: "now" for one command, read once
and passed down. SOURCE_DATE_EPOCH, when set, is that moment."""

from __future__ import annotations

import datetime as dt
import os
import time
from typing import Mapping

from feedsvc.errors import ConfigError

# The moments every timestamp format can write with a four-digit year, in
# every time zone (the same range as page dates).
_EARLIEST_EPOCH = int(dt.datetime(1000, 1, 2, tzinfo=dt.timezone.utc).timestamp())
_LATEST_EPOCH = int(dt.datetime(9999, 12, 30, tzinfo=dt.timezone.utc).timestamp())


def current_time(environ: Mapping[str, str] | None = None) -> dt.datetime:
    """'Now' for one run: SOURCE_DATE_EPOCH when set, else the clock, to the
    second. The pipeline never reads the clock itself; it is handed this."""
    environ = os.environ if environ is None else environ
    epoch = environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        try:
            seconds = int(epoch)
        except ValueError:
            raise ConfigError(f"SOURCE_DATE_EPOCH must be whole seconds since 1970, not {epoch!r}") from None
        if not _EARLIEST_EPOCH <= seconds <= _LATEST_EPOCH:
            raise ConfigError(f"SOURCE_DATE_EPOCH {epoch} is not a moment between the years 1000 and 9999")
    else:
        seconds = int(time.time())
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc)
