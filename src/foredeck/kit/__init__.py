"""Shared building blocks: envelopes, pagination, request context, cache, rate limits."""
