"""alternative.me Crypto Fear & Greed Index (keyless): raw client, wire models and domain; no venue adapter
(the index is not a market capability of :class:`~providers.venue.MarketProvider`)."""
