"""`python -m curate.cli`: the same as the `curate` console script."""

from curate.cli import main

if __name__ == "__main__":
    main()
