from foredeck.cli.main import app

app()
