"""CoinGlass API v4 (keyed): the route table and raw client, the wire models, the domain layer and the adapter."""
