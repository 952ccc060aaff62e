"""Command-line tools that build on the trainer (python -m jaxgen.tools.<name>): entry points,
so nothing in jaxgen imports them."""
