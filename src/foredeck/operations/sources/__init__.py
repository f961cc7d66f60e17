"""Where rows come from and go: managed files and dirs, URLs, Google Sheets, the blob store."""
