"""CrossFusion survival pipeline core."""
