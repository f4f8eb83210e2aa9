"""The bridge package's API shapes (Pydantic), never mixed into its models."""
