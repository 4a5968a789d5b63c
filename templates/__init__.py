"""The shipped Jinja templates (installed as the package data `generator.templates`)."""
