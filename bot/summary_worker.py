"""The summary step as ingest hands it to its worker processes.

The bot's own process never imports the summarizer: sumy imports NLTK, and NLTK's package
imports all of itself (~28 MB of resident memory the bot process would hold for nothing,
as summaries are made in the extraction workers). A worker imports it on its first summary;
so does the bot process, only if it has no workers (``workers=0``, or after a worker died).
"""

from __future__ import annotations


def summarize_in_worker(text: str, title: str, lang: str, algorithm: str,
                        count: int) -> tuple[str, ...]:
    """``bot.summarize.summarize``, imported where it runs.

    Args:
        text: The clean article body.
        title: The title.
        lang: ISO 639-1 code of the text.
        algorithm: ``hybrid`` or a sumy summarizer name.
        count: How many sentences.

    Returns:
        The chosen sentences, in article order.
    """
    # Imported here, not at the top: see the module's docstring.
    from bot.summarize import summarize  # noqa: PLC0415

    return summarize(text, title, lang, algorithm, count)
