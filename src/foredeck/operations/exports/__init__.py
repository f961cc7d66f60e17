"""The export job: the engine that pages records out, and the file writer it runs in a worker."""
