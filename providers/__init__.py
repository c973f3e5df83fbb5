"""Upstream providers: one raw client per venue shaped like the venue, and a domain layer per venue
that returns the normalized models of :mod:`engine.market`."""
