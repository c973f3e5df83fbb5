"""Composition root: settings, the ASGI app factory and the ``signal-api`` CLI. The only package that reads
the environment; everything else receives typed settings objects."""
