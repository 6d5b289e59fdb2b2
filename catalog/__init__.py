"""Ortak catalog: schema, metadata extraction, folding, search, indexer and published feed."""
