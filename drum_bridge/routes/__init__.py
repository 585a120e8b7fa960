"""The DRUM HTTP API: its route table and the endpoints behind it."""
