"""The web app's views, a module per area; each only parses, calls a service or selector,
and renders (see ``cryptotrack.web``)."""
