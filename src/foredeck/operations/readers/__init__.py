"""Streaming file readers (CSV, JSON, JSONL, Parquet), format detection and file splitting."""
