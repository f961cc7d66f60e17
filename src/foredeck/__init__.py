"""foredeck: operations server for text records with vector search."""

__version__ = "0.1.0"
