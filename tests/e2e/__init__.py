"""End-to-end tests: the Discord emulator, the real bot with the extension, and the dashboard."""
