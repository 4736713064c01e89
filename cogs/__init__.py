"""Discord adapters: cogs that feed the monitoring core and format its answers."""
