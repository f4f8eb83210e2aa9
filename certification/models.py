"""The certification package's tables, each name prefixed by the package."""
