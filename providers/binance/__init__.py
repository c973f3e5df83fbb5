"""Binance USD-M futures (keyless): the venue-shaped raw client and the normalizing domain layer."""
