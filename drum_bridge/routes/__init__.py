"""The DRUM HTTP API: its route table, the route that matches it as Flask would, the endpoints."""
