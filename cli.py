"""Run the facesearch CLI from a checkout: ``python cli.py index ./gallery`` (same as
the installed ``facesearch`` command)."""
from facesearch.cli import main

if __name__ == "__main__":
    main()
