"""The WSGI entry point for running from a checkout: `gunicorn wsgi:app`.
Settings come from the environment (FEEDSVC_SEEDS, FEEDSVC_BASE_URL, ...)."""

from feedsvc.serve.app import create_app

app = create_app()
