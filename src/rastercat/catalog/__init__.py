"""The catalog's domain: principals and permissions, validation, and the service layer (use-cases)."""
