"""The HTTP API: ``create_app(settings)`` and one router per wire-protocol service."""
