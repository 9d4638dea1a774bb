"""The running service: settings, the request path, and its HTTP face."""
