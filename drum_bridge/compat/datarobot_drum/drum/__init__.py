"""``datarobot_drum.drum``: only the modules model code imports (``exceptions``, ``common``)."""
