"""A profile module that ends the process importing it (tests/hostile/test_hostile_profiles.py)."""

import os

os._exit(0)

PROFILE = None
