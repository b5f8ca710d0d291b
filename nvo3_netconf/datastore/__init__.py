"""datastore."""
