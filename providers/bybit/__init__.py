"""Bybit v5 (keyless): the venue-shaped raw client, its models, the normalizing domain layer, the adapter
and the WebSocket parsers."""
