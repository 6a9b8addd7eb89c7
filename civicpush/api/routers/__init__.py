"""API routers, one module per domain; api.py mounts them."""
