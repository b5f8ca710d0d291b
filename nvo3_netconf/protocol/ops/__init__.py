"""protocol/ops."""
