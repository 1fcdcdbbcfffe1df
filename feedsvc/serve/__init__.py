"""The web server: HTTP representations and conditional requests, the live
site that follows the seeds folder, several sites in one server, the Flask
app and gunicorn. May import `core`, `store`, `site`, `config`, `instance`,
`clock` and `errors`; never `publish`."""
