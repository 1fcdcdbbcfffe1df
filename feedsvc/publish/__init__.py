"""Static publishing: exporting the site (or several) as files, the build's
manifest and publish guard, `--diff`, the strict feed checker and WebSub
pings. May import `core`, `store`, `site`, `config`, `instance`, `clock`
and `errors`; never `serve`."""
