"""Local stand-ins for the push providers, for tests and development: small servers on 127.0.0.1
that answer as each provider documents (success, 429 with Retry-After, 5xx, unregistered, bad
token), chosen per token by its prefix. Never used in production."""
