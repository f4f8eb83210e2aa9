"""The bridge package's scheduled work, run from the shell's job table."""
