"""The import job: checks, staging in a worker process, the merge, uploads and the preview."""
