"""The server's routers, one module per family of endpoints; each exposes ``router``."""
