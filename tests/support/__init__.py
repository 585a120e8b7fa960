"""Helpers shared by the test modules: contract recordings, model dirs, config, servers."""
