"""nacm."""
