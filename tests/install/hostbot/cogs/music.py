"""The host bot's own extension, in its own ``cogs/`` folder."""

from discord.ext import commands

from utils.text import now_playing


class Music(commands.Cog):
    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot
        self.played: list[str] = []

    def play(self, title: str, guild_id: int) -> str:
        self.played.append(title)
        self.bot.monitor.inc("songs_played", guild=guild_id)  # the monitoring extension's API
        return now_playing(title)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Music(bot))
