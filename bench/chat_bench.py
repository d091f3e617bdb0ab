"""The chat stream every bench/load.py target is asked for, in one place.

Prompts name a reply: ``bench100`` (zero-delay throughput) and ``paced10`` (paced load) are
words ``w000``, ``w001``, … of equal length, so a server that splits by characters (aimock's
``chunkSize``) and one that splits by words (sse_mock's tokenizer) send the same number of
content chunks of the same size.
"""

from __future__ import annotations

PROMPTS = {"bench100": 100, "paced10": 10}


def reply_text(prompt: str) -> str:
    return " ".join(f"w{i:03d}" for i in range(PROMPTS[prompt]))


def reply_words(prompt: str) -> list[str]:
    """The reply as sse_mock's tokenizer splits it: ``w000``, `` w001``, …"""
    words = reply_text(prompt).split(" ")
    return words[:1] + [" " + w for w in words[1:]]
