"""director."""
