"""ModelVersion: verify the artifact once per generation, report it in status."""
