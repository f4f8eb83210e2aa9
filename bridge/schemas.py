"""The bridge package's API shapes (Pydantic), never mixed into its models."""

# -- probe schemas --

# -- leg and call record schemas --
