"""CoinAPI market data (keyed): the venue-shaped raw client, wire models, domain and the adapter."""
