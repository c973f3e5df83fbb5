"""Resolvers: thin adapters from GraphQL arguments to the gateway (fetch) and the engine (score)."""
