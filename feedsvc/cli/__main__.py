"""`python -m feedsvc.cli`."""

import sys

from feedsvc.cli import main

sys.exit(main())
