"""Persistence (asyncpg on PostgreSQL). Empty until the signal-history issue: the foundation stores nothing,
and says so rather than pretending to."""
