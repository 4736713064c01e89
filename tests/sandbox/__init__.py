"""End-to-end tests of the offline Discord emulator (``sandbox``)."""
