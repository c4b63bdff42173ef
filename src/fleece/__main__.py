"""``python -m fleece`` runs the command line."""

from fleece.cli import app

if __name__ == "__main__":
    app()
