"""Models trained on one cohort applied to another: external validation (see docs/architecture.md)."""
