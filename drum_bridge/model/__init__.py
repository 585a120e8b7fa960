"""The model runtime: custom.py hooks, artifacts, payloads, prediction and its checks."""
