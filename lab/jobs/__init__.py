"""Background work the server starts: each job a small module with its own state file."""
