"""CoinGecko (keyless; a demo key raises the rate limit): the venue-shaped raw client and the domain layer."""
