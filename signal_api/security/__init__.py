"""Who is calling and what they may do: API keys, scopes, limits and origins, at the service's edge."""
