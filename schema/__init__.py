"""The GraphQL schema: types, expected-failure unions, the root operations and the schema factory."""
