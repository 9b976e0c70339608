"""The kopf operator: handlers register here; decisions live in pure modules beside them."""
