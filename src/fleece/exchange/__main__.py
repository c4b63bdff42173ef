"""``python -m fleece.exchange ...`` runs the exchange command (also ``fleece exchange``)."""

import typer

from fleece.exchange.server import exchange_command

if __name__ == "__main__":
    typer.run(exchange_command)
