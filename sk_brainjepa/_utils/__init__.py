"""Private helpers shared by every subpackage (validation, randomness, base classes)."""
