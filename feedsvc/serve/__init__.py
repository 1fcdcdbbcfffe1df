"""The web server: HTTP representations and conditional requests, the live
site that follows the seeds folder, the Flask app and gunicorn. May import
`core`, `store`, `site`, `config`, `clock` and `errors`; never `publish`."""
