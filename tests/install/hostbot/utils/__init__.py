"""The host bot's own helpers package (a name that many bots use)."""
