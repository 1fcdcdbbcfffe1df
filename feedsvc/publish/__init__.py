"""Static publishing: exporting the site as files, the build's manifest and
publish guard, `--diff`, the strict feed checker and WebSub pings. May
import `core`, `store`, `site`, `config`, `clock` and `errors`; never
`serve`."""
