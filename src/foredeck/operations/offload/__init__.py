"""Work off the server process: operations worker processes, their pool, parallel staging."""
