"""Settings package: base.py for every environment, test.py for the suite."""
