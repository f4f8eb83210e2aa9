"""The bridge package's tables, each name prefixed by the package."""
