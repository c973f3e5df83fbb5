"""Hyperliquid perpetuals (keyless): the venue-shaped ``/info`` client, its models, the normalizing domain
layer, the adapter and the WebSocket parsers."""
