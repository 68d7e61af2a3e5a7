"""The workbench: the web app at /app for billers (and, later, compliance officers and
auditors), server-rendered with Jinja2, htmx for partial updates, signed in with an API key."""
