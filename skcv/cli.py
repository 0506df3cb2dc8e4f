"""Placeholder, replaced by the command line."""


def main(argv=None):
    """Placeholder."""
    return 0
