"""LunarCrush API v4 (keyed): the venue-shaped raw client, wire models, domain and the SOCIAL adapter."""
