"""The ``tiering`` command line (Typer): one module per command group, commands thin over the
use-case functions, a :class:`~customer_tiering.core.errors.TieringError` printed as one line with
exit code 2 (by :class:`~customer_tiering.cli._common.TieringGroup`), never as a stack trace.

May import every stage below the faces (cli, api and web do not import one another).
"""

import typer

from customer_tiering.cli import data, models, ratings, scorecard, serve
from customer_tiering.cli._common import TieringGroup

__all__ = ["app"]

app = typer.Typer(
    name="tiering",
    help="Grade B2B customers (客户分级管理) and explain every grade.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=TieringGroup,
)
# Unnamed groups add their commands to the root; the order here is the order of `tiering --help`.
app.add_typer(data.app)
app.add_typer(models.app)
app.add_typer(ratings.app)
app.add_typer(serve.app)
app.add_typer(scorecard.app, name="scorecard")
app.add_typer(ratings.ratings_app, name="ratings")
app.add_typer(serve.keys_app, name="keys")
