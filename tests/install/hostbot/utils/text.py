"""A helper of the host bot, imported by its own extension."""


def now_playing(title: str) -> str:
    return f"Now playing: {title}"
