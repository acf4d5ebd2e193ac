"""``python -m streamrec.cli``: the same as the ``streamrec`` console script."""

from streamrec.cli import main

if __name__ == "__main__":
    main()
