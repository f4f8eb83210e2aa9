"""The monitoring package's tables, each name prefixed by the package."""
