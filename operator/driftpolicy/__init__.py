"""DriftPolicy: drift evaluation and retraining (decisions in decide.py; handlers to come)."""
